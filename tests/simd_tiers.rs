//! The fused CNN's loops run compiled for AVX-512 where the CPU has it, else AVX2 + FMA
//! (`learner::fast::simd`). Both tiers must give the same bits: a whole CNN run (training,
//! Winograd forward and backward, scoring) writes the same samples.csv with `ITLM_SIMD=avx2`
//! as with the default. On a CPU without AVX-512 both runs take the AVX2 tier, and the test
//! says so.

use std::path::Path;
use std::process::Command;

use image::{GrayImage, Luma};

const BIN: &str = env!("CARGO_BIN_EXE_itlm-inspector");

/// 3 classes x 60 images of 28x28: a bright square in a class-dependent corner over a noise
/// pattern, so the CNN has something to learn and its losses spread.
fn write_folder(root: &Path) {
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    for class in 0..3u32 {
        let dir = root.join(format!("class{class}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..60 {
            let (ox, oy) = (4 + 10 * (class % 2), 4 + 10 * (class / 2));
            let img = GrayImage::from_fn(28, 28, |x, y| {
                let inside = (ox..ox + 10).contains(&x) && (oy..oy + 10).contains(&y);
                Luma([if inside { 200 } else { 0 } + (next() % 56) as u8])
            });
            img.save(dir.join(format!("{i}.png"))).unwrap();
        }
    }
}

fn run(data: &Path, out: &Path, avx2: bool) -> Vec<u8> {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .args(["--model", "cnn", "--rounds", "1", "--epochs", "2"])
    .args(["--final-epochs", "1", "--seed", "3", "-q"]);
    if avx2 {
        cmd.env("ITLM_SIMD", "avx2");
    } else {
        cmd.env_remove("ITLM_SIMD");
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out.join("samples.csv")).unwrap()
}

#[test]
fn the_avx512_and_avx2_loops_give_the_same_run() {
    #[cfg(target_arch = "x86_64")]
    if !std::is_x86_feature_detected!("avx512f") {
        eprintln!("this CPU has no AVX-512: both runs take the AVX2 tier");
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_folder(&data);
    let wide = run(&data, &tmp.path().join("wide"), false);
    let narrow = run(&data, &tmp.path().join("narrow"), true);
    assert!(wide.len() > 100, "samples.csv is nearly empty");
    assert!(wide == narrow, "the two tiers' samples.csv differ");
}
