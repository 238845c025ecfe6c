//! EfficientNet-Lite0: its architecture (the EfficientNet-B0 stage table without
//! squeeze-excite, ReLU6, stem 32 and head 1280 fixed), its weights in the EfficientNet-PyTorch
//! naming, and its forward pass in candle (NCHW, batch norm in eval mode; runs on any candle
//! device, the reference for the fast CPU path in [`super::lite0_fast`]).
//!
//! Convolutions pad like TensorFlow's "SAME" (the models were trained in TensorFlow and
//! EfficientNet-PyTorch's `Conv2dDynamicSamePadding` does the same): the output is
//! ceil(input / stride) and the total padding `max((out - 1) * stride + k - in, 0)` is split
//! with the smaller half first, so a stride-2 3x3 conv on an even size pads only after.

use candle_core::{Device, Module, ModuleT, Tensor};
use candle_nn::{BatchNorm, Linear};

use super::weights::Weights;
use super::{check_batch, Backbone, BackboneKind, ImageBatch, InputSpec, Outputs};
use crate::error::{Error, Result};

/// Length of an embedding: the head's channels, averaged over the image.
pub const EMBEDDING_DIM: usize = 1280;
/// Output channels of the stem convolution.
pub const STEM_CHANNELS: usize = 32;
/// ImageNet classes of the classifier.
pub const NUM_CLASSES: usize = 1000;
/// Batch-norm epsilon of the TensorFlow models.
pub const BN_EPS: f64 = 1e-3;

/// One mobile inverted bottleneck block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSpec {
    /// Depthwise kernel size (3 or 5).
    pub kernel: usize,
    pub stride: usize,
    /// Expansion ratio of the 1x1 expand conv (1: no expand conv).
    pub expand: usize,
    pub cin: usize,
    pub cout: usize,
}

impl BlockSpec {
    /// Channels of the depthwise stage.
    pub fn mid(&self) -> usize {
        self.cin * self.expand
    }

    /// Whether the block adds its input to its output.
    pub fn skip(&self) -> bool {
        self.stride == 1 && self.cin == self.cout
    }
}

/// The stages (kernel, stride, expand, in, out, repeats) of EfficientNet-B0 = Lite0.
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
];

/// The 16 blocks in order (a stage's first block strides and changes the channels).
pub fn blocks() -> Vec<BlockSpec> {
    let mut out = Vec::with_capacity(16);
    for (kernel, stride, expand, cin, cout, repeats) in STAGES {
        for r in 0..repeats {
            out.push(BlockSpec {
                kernel,
                stride: if r == 0 { stride } else { 1 },
                expand,
                cin: if r == 0 { cin } else { cout },
                cout,
            });
        }
    }
    out
}

/// Every tensor of an EfficientNet-Lite0 weights file (EfficientNet-PyTorch's names) with its
/// shape, in the order [`Lite0Params::load`] reads them; the classifier (`_fc`) last. Synthetic
/// weights for tests and tools are made from this list ([`crate::testing::lite0_weights`]).
pub fn expected_tensors() -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    let mut conv_bn = |conv: &str, bn: &str, shape: [usize; 4]| {
        v.push((format!("{conv}.weight"), shape.to_vec()));
        for p in ["weight", "bias", "running_mean", "running_var"] {
            v.push((format!("{bn}.{p}"), vec![shape[0]]));
        }
    };
    conv_bn("_conv_stem", "_bn0", [STEM_CHANNELS, 3, 3, 3]);
    for (i, b) in blocks().iter().enumerate() {
        let p = format!("_blocks.{i}");
        if b.expand != 1 {
            conv_bn(
                &format!("{p}._expand_conv"),
                &format!("{p}._bn0"),
                [b.mid(), b.cin, 1, 1],
            );
        }
        conv_bn(
            &format!("{p}._depthwise_conv"),
            &format!("{p}._bn1"),
            [b.mid(), 1, b.kernel, b.kernel],
        );
        conv_bn(
            &format!("{p}._project_conv"),
            &format!("{p}._bn2"),
            [b.cout, b.mid(), 1, 1],
        );
    }
    conv_bn("_conv_head", "_bn1", [EMBEDDING_DIM, 320, 1, 1]);
    v.push(("_fc.weight".into(), vec![NUM_CLASSES, EMBEDDING_DIM]));
    v.push(("_fc.bias".into(), vec![NUM_CLASSES]));
    v
}

/// TensorFlow "SAME" padding of one dimension: (output size, padding before, padding after).
pub fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out.max(1) - 1) * stride + kernel).saturating_sub(size);
    (out, total / 2, total - total / 2)
}

/// A batch norm's parameters (PyTorch's `weight`, `bias`, `running_mean`, `running_var`).
#[derive(Clone, Debug)]
pub struct BnParams {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

impl BnParams {
    fn load(w: &Weights, prefix: &str, c: usize) -> Result<Self> {
        Ok(Self {
            gamma: w.get_vec(&format!("{prefix}.weight"), &[c])?,
            beta: w.get_vec(&format!("{prefix}.bias"), &[c])?,
            mean: w.get_vec(&format!("{prefix}.running_mean"), &[c])?,
            var: w.get_vec(&format!("{prefix}.running_var"), &[c])?,
        })
    }

    /// Per-channel (scale, shift) with `bn(x) = x * scale + shift`.
    pub fn scale_shift(&self) -> (Vec<f32>, Vec<f32>) {
        let scale: Vec<f32> = self
            .gamma
            .iter()
            .zip(&self.var)
            .map(|(g, v)| (*g as f64 / (*v as f64 + BN_EPS).sqrt()) as f32)
            .collect();
        let shift = self
            .beta
            .iter()
            .zip(&self.mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        (scale, shift)
    }

    fn to_candle(&self, device: &Device) -> Result<BatchNorm> {
        let t = |v: &Vec<f32>| Tensor::from_slice(v, v.len(), device);
        Ok(BatchNorm::new(
            self.gamma.len(),
            t(&self.mean)?,
            t(&self.var)?,
            t(&self.gamma)?,
            t(&self.beta)?,
            BN_EPS,
        )?)
    }
}

/// A bias-free convolution (PyTorch layout O x I x k x k) followed by a batch norm.
#[derive(Clone, Debug)]
pub struct ConvBn {
    pub weight: Vec<f32>,
    pub shape: [usize; 4],
    pub bn: BnParams,
}

impl ConvBn {
    fn load(w: &Weights, conv: &str, bn: &str, shape: [usize; 4]) -> Result<Self> {
        Ok(Self {
            weight: w.get_vec(&format!("{conv}.weight"), &shape)?,
            shape,
            bn: BnParams::load(w, bn, shape[0])?,
        })
    }

    /// The weight with the batch norm's scale folded in (same layout) and the bias.
    pub fn folded(&self) -> (Vec<f32>, Vec<f32>) {
        let (scale, shift) = self.bn.scale_shift();
        let per_out = self.weight.len() / self.shape[0];
        let w = self
            .weight
            .chunks_exact(per_out)
            .zip(&scale)
            .flat_map(|(row, s)| row.iter().map(move |v| v * s))
            .collect();
        (w, shift)
    }
}

/// One block's parameters.
#[derive(Clone, Debug)]
pub struct BlockParams {
    pub spec: BlockSpec,
    /// The 1x1 expand conv (absent when the expansion ratio is 1).
    pub expand: Option<ConvBn>,
    pub depthwise: ConvBn,
    pub project: ConvBn,
}

/// All parameters of EfficientNet-Lite0, checked against the architecture.
#[derive(Clone, Debug)]
pub struct Lite0Params {
    pub stem: ConvBn,
    pub blocks: Vec<BlockParams>,
    pub head: ConvBn,
    /// The ImageNet classifier (1000 x 1280 weight, 1000 bias), when the file has it.
    pub fc: Option<(Vec<f32>, Vec<f32>)>,
}

impl Lite0Params {
    /// Reads and checks every tensor; the first missing or mis-shaped one is the error.
    pub fn load(w: &Weights) -> Result<Self> {
        let stem = ConvBn::load(w, "_conv_stem", "_bn0", [STEM_CHANNELS, 3, 3, 3])?;
        let mut blocks = Vec::with_capacity(16);
        for (i, spec) in self::blocks().into_iter().enumerate() {
            let p = format!("_blocks.{i}");
            let mid = spec.mid();
            let expand = if spec.expand != 1 {
                Some(ConvBn::load(
                    w,
                    &format!("{p}._expand_conv"),
                    &format!("{p}._bn0"),
                    [mid, spec.cin, 1, 1],
                )?)
            } else {
                None
            };
            let depthwise = ConvBn::load(
                w,
                &format!("{p}._depthwise_conv"),
                &format!("{p}._bn1"),
                [mid, 1, spec.kernel, spec.kernel],
            )?;
            let project = ConvBn::load(
                w,
                &format!("{p}._project_conv"),
                &format!("{p}._bn2"),
                [spec.cout, mid, 1, 1],
            )?;
            blocks.push(BlockParams {
                spec,
                expand,
                depthwise,
                project,
            });
        }
        if w.contains("_blocks.16._depthwise_conv.weight") {
            return Err(Error::data(
                w.path(),
                "has a block 16: not EfficientNet-Lite0 (16 blocks), a bigger variant?",
            ));
        }
        let head = ConvBn::load(w, "_conv_head", "_bn1", [EMBEDDING_DIM, 320, 1, 1])?;
        let fc = if w.contains("_fc.weight") {
            Some((
                w.get_vec("_fc.weight", &[NUM_CLASSES, EMBEDDING_DIM])?,
                w.get_vec("_fc.bias", &[NUM_CLASSES])?,
            ))
        } else {
            None
        };
        Ok(Self {
            stem,
            blocks,
            head,
            fc,
        })
    }
}

/// A convolution + batch norm on a candle device.
struct CandleConvBn {
    weight: Tensor,
    bn: BatchNorm,
    kernel: usize,
    stride: usize,
    groups: usize,
}

impl CandleConvBn {
    fn new(p: &ConvBn, stride: usize, depthwise: bool, device: &Device) -> Result<Self> {
        Ok(Self {
            weight: Tensor::from_slice(&p.weight, p.shape.as_slice(), device)?,
            bn: p.bn.to_candle(device)?,
            kernel: p.shape[2],
            stride,
            groups: if depthwise { p.shape[0] } else { 1 },
        })
    }

    /// bn(conv(x)) with "SAME" padding; x is N x C x H x W.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = if self.groups > 1 {
            depthwise(x, &self.weight, self.kernel, self.stride)?
        } else {
            let (_, _, h, w) = x.dims4()?;
            let (_, pt, pb) = same_padding(h, self.kernel, self.stride);
            let (_, pl, pr) = same_padding(w, self.kernel, self.stride);
            let x = if pt + pb + pl + pr > 0 {
                x.pad_with_zeros(2, pt, pb)?.pad_with_zeros(3, pl, pr)?
            } else {
                x.clone()
            };
            x.conv2d(&self.weight, 0, self.stride, 1, 1)?
        };
        self.bn.forward_t(&y, false)
    }
}

/// Depthwise convolution as a sum of k x k shifted, per-channel scaled copies of the padded
/// input (candle's grouped conv2d runs one convolution per channel, which is far slower).
fn depthwise(x: &Tensor, w: &Tensor, k: usize, s: usize) -> candle_core::Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let (oh, pt, pb) = same_padding(h, k, s);
    let (ow, pl, pr) = same_padding(wd, k, s);
    // Enough rows and columns that every tap can take `s * out` values and keep every s-th.
    let extra_h = (k - 1 + s * oh).saturating_sub(h + pt + pb);
    let extra_w = (k - 1 + s * ow).saturating_sub(wd + pl + pr);
    let xp = x
        .pad_with_zeros(2, pt, pb + extra_h)?
        .pad_with_zeros(3, pl, pr + extra_w)?;
    let wp = xp.dim(3)?;
    let mut acc: Option<Tensor> = None;
    for ky in 0..k {
        let mut rows = xp.narrow(2, ky, s * oh)?;
        if s > 1 {
            rows = rows
                .contiguous()?
                .reshape((n, c, oh, s, wp))?
                .narrow(3, 0, 1)?
                .squeeze(3)?;
        }
        for kx in 0..k {
            let mut cols = rows.narrow(3, kx, s * ow)?;
            if s > 1 {
                cols = cols
                    .contiguous()?
                    .reshape((n, c, oh, ow, s))?
                    .narrow(4, 0, 1)?
                    .squeeze(4)?;
            }
            let tap = w
                .narrow(2, ky, 1)?
                .narrow(3, kx, 1)?
                .reshape((1, c, 1, 1))?;
            let term = cols.broadcast_mul(&tap)?;
            acc = Some(match acc {
                None => term,
                Some(a) => (a + term)?,
            });
        }
    }
    match acc {
        Some(a) => Ok(a),
        None => candle_core::bail!("depthwise: empty kernel"),
    }
}

fn relu6(x: &Tensor) -> candle_core::Result<Tensor> {
    x.clamp(0f32, 6f32)
}

struct CandleBlock {
    spec: BlockSpec,
    expand: Option<CandleConvBn>,
    depthwise: CandleConvBn,
    project: CandleConvBn,
}

/// EfficientNet-Lite0 in candle on any device.
pub struct Lite0 {
    input: InputSpec,
    device: Device,
    stem: CandleConvBn,
    blocks: Vec<CandleBlock>,
    head: CandleConvBn,
    fc: Option<Linear>,
}

impl Lite0 {
    pub fn new(weights: &Weights, input: InputSpec, device: &Device) -> Result<Self> {
        Self::from_params(&Lite0Params::load(weights)?, input, device)
    }

    pub fn from_params(p: &Lite0Params, input: InputSpec, device: &Device) -> Result<Self> {
        let blocks = p
            .blocks
            .iter()
            .map(|b| {
                Ok(CandleBlock {
                    spec: b.spec,
                    expand: b
                        .expand
                        .as_ref()
                        .map(|e| CandleConvBn::new(e, 1, false, device))
                        .transpose()?,
                    depthwise: CandleConvBn::new(&b.depthwise, b.spec.stride, true, device)?,
                    project: CandleConvBn::new(&b.project, 1, false, device)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let fc = match &p.fc {
            Some((w, b)) => Some(Linear::new(
                Tensor::from_slice(w, (NUM_CLASSES, EMBEDDING_DIM), device)?,
                Some(Tensor::from_slice(b, NUM_CLASSES, device)?),
            )),
            None => None,
        };
        Ok(Self {
            input,
            device: device.clone(),
            stem: CandleConvBn::new(&p.stem, 2, false, device)?,
            blocks,
            head: CandleConvBn::new(&p.head, 1, false, device)?,
            fc,
        })
    }

    /// Pooled features (N x 1280) of an N x 3 x H x W tensor.
    pub fn features(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = relu6(&self.stem.forward(x)?)?;
        for b in &self.blocks {
            let input = x.clone();
            let mut y = x;
            if let Some(e) = &b.expand {
                y = relu6(&e.forward(&y)?)?;
            }
            y = relu6(&b.depthwise.forward(&y)?)?;
            y = b.project.forward(&y)?;
            x = if b.spec.skip() { (y + input)? } else { y };
        }
        let x = relu6(&self.head.forward(&x)?)?;
        x.mean((2, 3))
    }
}

impl Backbone for Lite0 {
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
        format!("candle on {:?}", self.device.location())
    }

    fn forward(&self, batch: &ImageBatch, with_logits: bool) -> Result<Outputs> {
        check_batch(self.kind(), &self.input, batch)?;
        if batch.n == 0 {
            return Ok(Outputs {
                embeddings: Vec::new(),
                logits: (with_logits && self.fc.is_some()).then(Vec::new),
            });
        }
        let r = self.input.resolution;
        let x = Tensor::from_slice(&batch.pixels, (batch.n, r, r, 3), &self.device)?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        let feats = self.features(&x)?;
        let logits = match (&self.fc, with_logits) {
            (Some(fc), true) => Some(fc.forward(&feats)?.flatten_all()?.to_vec1::<f32>()?),
            _ => None,
        };
        Ok(Outputs {
            embeddings: feats.flatten_all()?.to_vec1::<f32>()?,
            logits,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Random Lite0 weights ([`crate::testing::lite0_weights`], with the classifier).
    pub(crate) fn random_weights(seed: u64) -> Weights {
        Weights::from_tensors(
            "random.safetensors",
            crate::testing::lite0_weights(seed, true),
        )
    }

    /// The loader reads exactly the listed tensors: weights made from the list load, and
    /// without any one of them (the classifier is optional) the load fails naming it.
    #[test]
    fn the_loader_reads_exactly_the_expected_tensors() {
        let all = crate::testing::lite0_weights(2, true);
        assert_eq!(all.len(), expected_tensors().len());
        let p = Lite0Params::load(&Weights::from_tensors("w.safetensors", all.clone())).unwrap();
        assert!(p.fc.is_some());
        for (name, _) in expected_tensors().iter().step_by(7) {
            let mut t = all.clone();
            t.remove(name);
            let r = Lite0Params::load(&Weights::from_tensors("w.safetensors", t));
            if name.starts_with("_fc.bias") {
                // (The classifier is read whole when its weight is there.)
                assert!(r.is_err(), "{name}");
            } else if name.starts_with("_fc") {
                assert!(r.is_ok_and(|p| p.fc.is_none()), "{name}");
            } else {
                let e = r
                    .err()
                    .unwrap_or_else(|| panic!("{name}: loaded"))
                    .to_string();
                assert!(e.contains(name.as_str()), "{name}: {e}");
            }
        }
    }

    #[test]
    fn a_missing_or_mis_shaped_tensor_is_named_with_both_shapes() {
        let kind = BackboneKind::EfficientNetLite0;
        let input = kind.input_spec(None).unwrap();
        let mut t = random_weights(1).into_tensors();
        t.remove("_blocks.5._bn1.running_var");
        let w = Weights::from_tensors("lite0.safetensors", t);
        let e = Lite0::new(&w, input, &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "lite0.safetensors: tensor `_blocks.5._bn1.running_var` is missing (expected shape [240])"
        );
        let mut t = random_weights(1).into_tensors();
        t.insert(
            "_blocks.3._depthwise_conv.weight".into(),
            Tensor::zeros((144, 1, 3, 3), candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
        let w = Weights::from_tensors("lite0.safetensors", t);
        let e = Lite0::new(&w, input, &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            e,
            "lite0.safetensors: tensor `_blocks.3._depthwise_conv.weight` has shape [144, 1, 3, 3], expected [144, 1, 5, 5]"
        );
    }

    #[test]
    fn the_block_table_is_b0s() {
        let b = blocks();
        assert_eq!(b.len(), 16);
        assert_eq!(
            b[0],
            BlockSpec {
                kernel: 3,
                stride: 1,
                expand: 1,
                cin: 32,
                cout: 16
            }
        );
        assert_eq!(b.iter().filter(|b| b.stride == 2).count(), 4);
        assert_eq!(b.iter().filter(|b| b.skip()).count(), 9);
        assert_eq!(b[15].cout, 320);
        assert_eq!(b[15].mid(), 1152);
    }

    #[test]
    fn same_padding_is_tensorflows() {
        // Stride 2, even size: pad only after.
        assert_eq!(same_padding(224, 3, 2), (112, 0, 1));
        assert_eq!(same_padding(28, 5, 2), (14, 1, 2));
        // Odd size: symmetric.
        assert_eq!(same_padding(7, 5, 2), (4, 2, 2));
        // Stride 1: (k - 1) / 2 each side.
        assert_eq!(same_padding(14, 5, 1), (14, 2, 2));
        assert_eq!(same_padding(1, 3, 1), (1, 1, 1));
    }

    #[test]
    fn the_depthwise_sum_of_taps_is_a_grouped_conv() {
        let dev = Device::Cpu;
        for (h, k, s) in [(9, 3, 1), (8, 3, 2), (7, 5, 2), (10, 5, 2), (6, 5, 1)] {
            let x = Tensor::randn(0f32, 1.0, (2, 4, h, h + 1), &dev).unwrap();
            let w = Tensor::randn(0f32, 1.0, (4, 1, k, k), &dev).unwrap();
            let ours = depthwise(&x, &w, k, s).unwrap();
            let (_, pt, pb) = same_padding(h, k, s);
            let (_, pl, pr) = same_padding(h + 1, k, s);
            let xp = x
                .pad_with_zeros(2, pt, pb)
                .unwrap()
                .pad_with_zeros(3, pl, pr)
                .unwrap();
            let want = xp.conv2d(&w, 0, s, 1, 4).unwrap();
            assert_eq!(ours.dims(), want.dims(), "h {h} k {k} s {s}");
            let diff = (ours - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-5, "h {h} k {k} s {s}: {diff}");
        }
    }
}
