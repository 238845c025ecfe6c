//! EfficientNet-Lite0 inference on the CPU with fused kernels: batch norms folded into the
//! convolutions at load time, NHWC activations, one image per rayon task, and each block run
//! in tiles of output rows so that the expanded activations (up to 1152 channels) never leave
//! the cache: a tile's new input rows are expanded (1x1 conv as gemm + bias + ReLU6) into a
//! rolling buffer, the depthwise conv + bias + ReLU6 reads them, and the 1x1 projection writes
//! the tile's output rows with the bias and the residual added in the gemm's accumulator.

use rayon::prelude::*;

use super::kernels::{depthwise_relu6, stem_im2col, DwGeom, Pointwise};
use super::lite0::{
    same_padding, BlockSpec, ConvBn, Lite0Params, EMBEDDING_DIM, NUM_CLASSES, STEM_CHANNELS,
};
use super::weights::Weights;
use super::{check_batch, Backbone, BackboneKind, ImageBatch, InputSpec, Outputs};
use crate::error::Result;
use crate::learner::fast::gemm::{matmul, MatRef};

/// Values of a block tile's buffers (expanded input rows + depthwise output): 128 K floats,
/// 512 KiB, well inside a core's L2.
const TILE_VALUES: usize = 128 * 1024;
/// Pixels of a stem or head tile.
const TILE_PIXELS: usize = 256;

struct FastBlock {
    spec: BlockSpec,
    expand: Option<Pointwise>,
    /// k k x mid, tap-major.
    dw_weight: Vec<f32>,
    dw_bias: Vec<f32>,
    project: Pointwise,
}

/// A 1x1 conv + BN as a `cin x cout` matrix and a bias.
fn pointwise(p: &ConvBn) -> Pointwise {
    let (w, bias) = p.folded();
    let [cout, cin, _, _] = p.shape;
    let mut weight = vec![0.0; cin * cout];
    for o in 0..cout {
        for i in 0..cin {
            weight[i * cout + o] = w[o * cin + i];
        }
    }
    Pointwise {
        cin,
        cout,
        weight,
        bias,
    }
}

/// The reusable buffers of one worker.
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    tile_e: Vec<f32>,
    tile_d: Vec<f32>,
}

/// EfficientNet-Lite0 on the CPU's fused kernels (f32; matches [`super::lite0::Lite0`] to
/// rounding).
pub struct Lite0Fast {
    input: InputSpec,
    /// im2col stem: 27 x 32, rows (ky, kx, c).
    stem: Pointwise,
    blocks: Vec<FastBlock>,
    head: Pointwise,
    /// 1000 x 1280 and 1000.
    fc: Option<(Vec<f32>, Vec<f32>)>,
    /// Largest activation of one image (values).
    max_activation: usize,
}

impl Lite0Fast {
    pub fn new(weights: &Weights, input: InputSpec) -> Result<Self> {
        Ok(Self::from_params(&Lite0Params::load(weights)?, input))
    }

    pub fn from_params(p: &Lite0Params, input: InputSpec) -> Self {
        let (w, bias) = p.stem.folded();
        let mut stem_w = vec![0.0; 27 * STEM_CHANNELS];
        for o in 0..STEM_CHANNELS {
            for c in 0..3 {
                for t in 0..9 {
                    stem_w[(t * 3 + c) * STEM_CHANNELS + o] = w[(o * 3 + c) * 9 + t];
                }
            }
        }
        let blocks = p
            .blocks
            .iter()
            .map(|b| {
                let (w, dw_bias) = b.depthwise.folded();
                let mid = b.spec.mid();
                let kk = b.spec.kernel * b.spec.kernel;
                let mut dw_weight = vec![0.0; kk * mid];
                for c in 0..mid {
                    for t in 0..kk {
                        dw_weight[t * mid + c] = w[c * kk + t];
                    }
                }
                FastBlock {
                    spec: b.spec,
                    expand: b.expand.as_ref().map(pointwise),
                    dw_weight,
                    dw_bias,
                    project: pointwise(&b.project),
                }
            })
            .collect::<Vec<_>>();
        // Sizes of every activation, to size the ping-pong buffers.
        let r = input.resolution;
        let (mut h, mut w) = (same_padding(r, 3, 2).0, same_padding(r, 3, 2).0);
        let mut max_activation = h * w * STEM_CHANNELS;
        for b in &blocks {
            h = same_padding(h, b.spec.kernel, b.spec.stride).0;
            w = same_padding(w, b.spec.kernel, b.spec.stride).0;
            max_activation = max_activation.max(h * w * b.spec.cout);
        }
        Self {
            input,
            stem: Pointwise {
                cin: 27,
                cout: STEM_CHANNELS,
                weight: stem_w,
                bias,
            },
            blocks,
            head: pointwise(&p.head),
            fc: p.fc.clone(),
            max_activation,
        }
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            a: vec![0.0; self.max_activation],
            b: vec![0.0; self.max_activation],
            tile_e: Vec::new(),
            tile_d: Vec::new(),
        }
    }

    /// The pooled 1280 features of one r x r x 3 image.
    fn image_features(&self, img: &[f32], s: &mut Scratch, feat: &mut [f32]) {
        {
            let r = self.input.resolution;
            let (mut h, pt, _) = same_padding(r, 3, 2);
            let (mut w, pl, _) = same_padding(r, 3, 2);
            // Stem, in tiles of output rows (im2col into the tile buffer).
            let rows = (TILE_PIXELS / w).max(1);
            grow(&mut s.tile_e, rows * w * 27);
            for o0 in (0..h).step_by(rows) {
                let o1 = (o0 + rows).min(h);
                stem_im2col(img, r, r, w, pt, pl, o0, o1, &mut s.tile_e);
                let out = &mut s.a[o0 * w * STEM_CHANNELS..];
                self.stem.apply(&s.tile_e, (o1 - o0) * w, None, true, out);
            }
            let (mut cur, mut next) = (&mut s.a, &mut s.b);
            for b in &self.blocks {
                (h, w) = block(b, cur, h, w, next, &mut s.tile_e, &mut s.tile_d);
                std::mem::swap(&mut cur, &mut next);
            }
            // Head 1x1 conv + ReLU6, averaged over the pixels.
            let px = h * w;
            let cin = self.head.cin;
            feat.fill(0.0);
            grow(&mut s.tile_d, TILE_PIXELS * EMBEDDING_DIM);
            for p0 in (0..px).step_by(TILE_PIXELS) {
                let p1 = (p0 + TILE_PIXELS).min(px);
                let out = &mut s.tile_d[..(p1 - p0) * EMBEDDING_DIM];
                self.head
                    .apply(&cur[p0 * cin..p1 * cin], p1 - p0, None, true, out);
                for row in out.chunks_exact(EMBEDDING_DIM) {
                    for (f, v) in feat.iter_mut().zip(row) {
                        *f += v;
                    }
                }
            }
            let inv = 1.0 / px as f32;
            for f in feat.iter_mut() {
                *f *= inv;
            }
        }
    }
}

/// Grows `v` to at least `len` values.
fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// One MBConv block on an h x w x cin image `x` into `y`; returns the output size.
#[inline(always)]
fn block(
    b: &FastBlock,
    x: &[f32],
    h: usize,
    w: usize,
    y: &mut [f32],
    tile_e: &mut Vec<f32>,
    tile_d: &mut Vec<f32>,
) -> (usize, usize) {
    let spec = b.spec;
    let (k, s, mid, cin, cout) = (spec.kernel, spec.stride, spec.mid(), spec.cin, spec.cout);
    let (oh, pt, _) = same_padding(h, k, s);
    let (ow, pl, _) = same_padding(w, k, s);
    let g = DwGeom {
        h,
        w,
        c: mid,
        k,
        s,
        ow,
        pt,
        pl,
    };
    // Output rows per tile so that the expanded rows and the depthwise output fit TILE_VALUES.
    let budget = (TILE_VALUES / mid).saturating_sub((k - 1) * w);
    let t = (budget / (s * w + ow)).clamp(1, oh);
    if b.expand.is_some() {
        grow(tile_e, (t * s + k) * w * mid);
    }
    grow(tile_d, t * ow * mid);
    // Expanded input rows [e0, e1) are held at the start of tile_e.
    let (mut e0, mut e1) = (0, 0);
    for o0 in (0..oh).step_by(t) {
        let o1 = (o0 + t).min(oh);
        let (a, end) = g.input_rows(o0, o1);
        let (rows, r0): (&[f32], usize) = match &b.expand {
            None => (&x[a * w * mid..end * w * mid], a),
            Some(ex) => {
                if a >= e1 {
                    (e0, e1) = (a, a);
                } else if a > e0 {
                    tile_e.copy_within((a - e0) * w * mid..(e1 - e0) * w * mid, 0);
                    e0 = a;
                }
                if end > e1 {
                    ex.apply(
                        &x[e1 * w * cin..end * w * cin],
                        (end - e1) * w,
                        None,
                        true,
                        &mut tile_e[(e1 - e0) * w * mid..],
                    );
                    e1 = end;
                }
                (&tile_e[..(e1 - e0) * w * mid], e0)
            }
        };
        depthwise_relu6(&g, rows, r0, o0, o1, &b.dw_weight, &b.dw_bias, tile_d);
        let px = (o1 - o0) * ow;
        let residual = spec.skip().then(|| &x[o0 * ow * cout..o1 * ow * cout]);
        b.project.apply(
            &tile_d[..px * mid],
            px,
            residual,
            false,
            &mut y[o0 * ow * cout..],
        );
    }
    (oh, ow)
}

impl Backbone for Lite0Fast {
    fn kind(&self) -> BackboneKind {
        BackboneKind::EfficientNetLite0
    }

    fn input(&self) -> &InputSpec {
        &self.input
    }

    fn num_classes(&self) -> Option<usize> {
        self.fc.as_ref().map(|_| NUM_CLASSES)
    }

    fn engine_name(&self) -> String {
        "fast CPU".into()
    }

    fn forward(&self, batch: &ImageBatch, with_logits: bool) -> Result<Outputs> {
        check_batch(self.kind(), &self.input, batch)?;
        let r = self.input.resolution;
        let mut feats = vec![0.0f32; batch.n * EMBEDDING_DIM];
        feats
            .par_chunks_mut(EMBEDDING_DIM)
            .zip(batch.pixels.par_chunks(r * r * 3))
            .for_each_init(
                || self.scratch(),
                |s, (feat, img)| self.image_features(img, s, feat),
            );
        let logits = match (&self.fc, with_logits) {
            (Some((w, b)), true) => {
                let mut out = Vec::with_capacity(batch.n * NUM_CLASSES);
                for _ in 0..batch.n {
                    out.extend_from_slice(b);
                }
                matmul(
                    &mut out,
                    NUM_CLASSES,
                    true,
                    MatRef::row_major(&feats, batch.n, EMBEDDING_DIM),
                    MatRef::row_major(w, NUM_CLASSES, EMBEDDING_DIM).t(),
                    gemm::Parallelism::None,
                );
                Some(out)
            }
            _ => None,
        };
        Ok(Outputs {
            embeddings: feats,
            logits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::backbone::lite0::tests::random_weights;
    use crate::learner::backbone::lite0::Lite0;
    use candle_core::Device;

    /// Noise images, image i shifted by i - 1 (so that their pooled features differ).
    fn random_batch(n: usize, r: usize, seed: u64) -> ImageBatch {
        let mut rng = crate::rng::Rng::new(seed);
        let len = r * r * 3;
        ImageBatch {
            n,
            height: r,
            width: r,
            pixels: (0..n * len)
                .map(|j| rng.normal() + (j / len) as f32 - 1.0)
                .collect(),
        }
    }

    /// Largest |a - b| relative to the largest |b|.
    fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        diff / scale
    }

    #[test]
    fn the_fast_path_matches_candle_on_random_weights_and_inputs() {
        let w = random_weights(7);
        let kind = BackboneKind::EfficientNetLite0;
        // 224 (even sizes all the way), 112 (an odd 7x7 stage before the last stride 2) and 96.
        for r in [224, 112, 96] {
            let input = kind.input_spec(Some(r)).unwrap();
            let fast = Lite0Fast::new(&w, input).unwrap();
            let slow = Lite0::new(&w, input, &Device::Cpu).unwrap();
            let batch = random_batch(3, r, r as u64);
            let a = fast.forward(&batch, true).unwrap();
            let b = slow.forward(&batch, true).unwrap();
            let de = rel_diff(&a.embeddings, &b.embeddings);
            let dl = rel_diff(a.logits.as_ref().unwrap(), b.logits.as_ref().unwrap());
            assert!(
                de < 1e-4 && dl < 1e-4,
                "res {r}: embeddings {de}, logits {dl}"
            );
            // The images differ, and so do their embeddings.
            assert!(rel_diff(&a.embeddings[..1280], &a.embeddings[1280..2560]) > 1e-2);
        }
    }
}
