//! `itlm-inspector corrupt` (a corrupted copy of a dataset with its truth.csv) and `gen-demo`
//! (the demo set): their arguments, turned into the core's settings.

use std::path::PathBuf;

use crate::data::corrupt::NoiseKind;
use crate::data::watermark::{MarkShape, Position};
use crate::error::Result;
use crate::session::corrupt::CorruptSpec;

/// `itlm-inspector corrupt`: write a corrupted copy of a dataset as a new image folder.
#[derive(clap::Args, Debug, Clone)]
pub struct CorruptArgs {
    /// Source: image folder, labels CSV, IDX directory (MNIST / Fashion-MNIST) or CIFAR-10 directory.
    /// It is only read.
    pub src: PathBuf,
    /// New folder to create (must not exist or be empty, and must not be inside SRC).
    #[arg(long)]
    pub out: PathBuf,
    /// Kind of corruption.
    #[arg(long, value_enum)]
    pub noise: NoiseKind,
    /// Share of each affected class made bad (spurious: share of the result that is spurious).
    #[arg(long)]
    pub rate: f64,
    /// Class to corrupt (name or index): systematic/random restrict to it; backdoor: class
    /// watermarked; spurious: the main class.
    #[arg(long)]
    pub src_class: Option<String>,
    /// Target class (name or index): systematic with --src-class, or the backdoor's target.
    #[arg(long)]
    pub dst_class: Option<String>,
    /// Systematic: explicit permutation of class indices, e.g. 1,2,0 (class c -> perm[c]).
    #[arg(long, value_delimiter = ',')]
    pub perm: Option<Vec<usize>>,
    /// Backdoor watermark shape.
    #[arg(long, value_enum, ignore_case = true, default_value_t = MarkShape::X)]
    pub shape: MarkShape,
    /// Backdoor watermark position: corner (bottom-right), center, or ROW,COL of its top-left.
    // A value starting with '-' ("-1,0") goes to the parser, which names what is wrong, not
    // to clap as an unknown flag.
    #[arg(long, default_value_t = Position::Corner, allow_hyphen_values = true)]
    pub position: Position,
    /// Backdoor watermark size in pixels (default: a seventh of the shorter side, at least 3).
    #[arg(long)]
    pub mark_size: Option<usize>,
    /// Backdoor watermark value written to every channel (255: bright).
    #[arg(long, default_value_t = 255)]
    pub mark_value: u8,
    /// Spurious: draw the spurious images from this data path instead of SRC's other classes.
    #[arg(long)]
    pub mix: Option<PathBuf>,
    /// Backdoor: test images for the test-2 set (default: SRC's test split, e.g. t10k). The
    /// test-2 set goes to `<OUT>-test2/`: every test image of --src-class, watermarked, under
    /// the --dst-class folder, with an empty folder for every other class so that it loads
    /// with OUT's class names (loaders also align a test set's classes by name).
    #[arg(long)]
    pub test_src: Option<PathBuf>,
    #[command(flatten)]
    pub columns: super::args::ColumnArgs,
    /// Use a seeded random subset of N samples of SRC.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl CorruptArgs {
    /// The command's settings.
    pub fn spec(&self) -> CorruptSpec {
        CorruptSpec {
            src: self.src.clone(),
            out: self.out.clone(),
            noise: self.noise,
            rate: self.rate,
            src_class: self.src_class.clone(),
            dst_class: self.dst_class.clone(),
            perm: self.perm.clone(),
            shape: self.shape,
            position: self.position,
            mark_size: self.mark_size,
            mark_value: self.mark_value,
            mix: self.mix.clone(),
            test_src: self.test_src.clone(),
            limit: self.limit,
            seed: self.seed,
            columns: self.columns.columns(),
        }
    }
}

/// `itlm-inspector corrupt`.
pub fn corrupt_command(a: &CorruptArgs) -> Result<()> {
    let r = crate::session::corrupt::run(&a.spec())?;
    super::report(&r);
    Ok(())
}

/// `itlm-inspector gen-demo`: write the demo data set.
#[derive(clap::Args, Debug, Clone)]
pub struct GenDemoArgs {
    /// New folder to create (must not exist or be empty), e.g. assets/demo.
    #[arg(long)]
    pub out: PathBuf,
}

/// `itlm-inspector gen-demo`.
pub fn gen_demo_command(a: &GenDemoArgs) -> Result<()> {
    let r = crate::session::demo::write(&a.out)?;
    super::report(&r);
    Ok(())
}
