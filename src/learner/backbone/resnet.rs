//! ResNet-18 and ResNet-50 (He et al. 2016; torchvision's v1.5 layout, which timm's ResNets
//! share: stride on the 3x3 conv of a bottleneck) in candle, loaded from a safetensors or
//! `.pth` file with torchvision's tensor names (`conv1`, `bn1`, `layerL.i.convJ`,
//! `layerL.i.downsample.{0,1}`, `fc`). Written after candle-transformers' `resnet.rs`
//! (Apache-2.0 / MIT), on this crate's checked weight loading. Embedding = the 512 (2048)
//! globally averaged features before `fc`.

use candle_core::{Device, Module, ModuleT, Tensor};
use candle_nn::{BatchNorm, Linear};

use super::weights::Weights;
use super::{check_batch, Backbone, BackboneKind, ImageBatch, InputSpec, Outputs};
use crate::error::{Error, Result};

/// Batch-norm epsilon of torchvision / timm ResNets.
const BN_EPS: f64 = 1e-5;

/// A bias-free convolution followed by a batch norm.
struct ConvBn {
    weight: Tensor,
    bn: BatchNorm,
    stride: usize,
    padding: usize,
}

impl ConvBn {
    #[allow(clippy::too_many_arguments)]
    fn load(
        w: &Weights,
        conv: &str,
        bn: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        device: &Device,
    ) -> Result<Self> {
        let get = |name: String, shape: &[usize]| -> Result<Tensor> {
            Ok(w.get(&name, shape)?.to_device(device)?)
        };
        Ok(Self {
            weight: get(format!("{conv}.weight"), &[cout, cin, k, k])?,
            bn: BatchNorm::new(
                cout,
                get(format!("{bn}.running_mean"), &[cout])?,
                get(format!("{bn}.running_var"), &[cout])?,
                get(format!("{bn}.weight"), &[cout])?,
                get(format!("{bn}.bias"), &[cout])?,
                BN_EPS,
            )?,
            stride,
            padding: k / 2,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = x.conv2d(&self.weight, self.padding, self.stride, 1, 1)?;
        self.bn.forward_t(&y, false)
    }
}

/// A residual block: its convs in order (ReLU between them) and the shortcut's projection.
struct Block {
    convs: Vec<ConvBn>,
    downsample: Option<ConvBn>,
}

impl Block {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut y = x.clone();
        for (i, c) in self.convs.iter().enumerate() {
            y = c.forward(&y)?;
            if i + 1 < self.convs.len() {
                y = y.relu()?;
            }
        }
        let shortcut = match &self.downsample {
            Some(d) => d.forward(x)?,
            None => x.clone(),
        };
        (y + shortcut)?.relu()
    }
}

/// Blocks per stage and whether they are bottlenecks.
fn layout(kind: BackboneKind) -> Result<([usize; 4], bool)> {
    match kind {
        BackboneKind::ResNet18 => Ok(([2, 2, 2, 2], false)),
        BackboneKind::ResNet50 => Ok(([3, 4, 6, 3], true)),
        other => Err(Error::Config(format!("{other} is not a ResNet"))),
    }
}

/// A ResNet in candle on any device.
pub struct ResNet {
    kind: BackboneKind,
    input: InputSpec,
    device: Device,
    stem: ConvBn,
    blocks: Vec<Block>,
    fc: Option<(Linear, usize)>,
}

impl ResNet {
    pub fn new(kind: BackboneKind, w: &Weights, input: InputSpec, device: &Device) -> Result<Self> {
        let (depths, bottleneck) = layout(kind)?;
        let expansion = if bottleneck { 4 } else { 1 };
        let stem = ConvBn::load(w, "conv1", "bn1", 3, 64, 7, 2, device)?;
        let mut blocks = Vec::new();
        let mut cin = 64;
        for (l, &depth) in depths.iter().enumerate() {
            let width = 64 << l;
            let cout = width * expansion;
            for i in 0..depth {
                let stride = if i == 0 && l > 0 { 2 } else { 1 };
                let p = format!("layer{}.{i}", l + 1);
                let c = |j: usize, a: usize, b: usize, k: usize, s: usize| {
                    ConvBn::load(
                        w,
                        &format!("{p}.conv{j}"),
                        &format!("{p}.bn{j}"),
                        a,
                        b,
                        k,
                        s,
                        device,
                    )
                };
                let convs = if bottleneck {
                    vec![
                        c(1, cin, width, 1, 1)?,
                        c(2, width, width, 3, stride)?,
                        c(3, width, cout, 1, 1)?,
                    ]
                } else {
                    vec![c(1, cin, width, 3, stride)?, c(2, width, width, 3, 1)?]
                };
                let downsample = if stride != 1 || cin != cout {
                    Some(ConvBn::load(
                        w,
                        &format!("{p}.downsample.0"),
                        &format!("{p}.downsample.1"),
                        cin,
                        cout,
                        1,
                        stride,
                        device,
                    )?)
                } else {
                    None
                };
                blocks.push(Block { convs, downsample });
                cin = cout;
            }
        }
        let extra = format!("layer{}.{}.conv1.weight", depths.len(), depths[3]);
        if w.contains(&extra) {
            return Err(Error::data(
                w.path(),
                format!("has `{extra}`: a deeper ResNet than {kind}"),
            ));
        }
        let fc = if w.contains("fc.weight") {
            // Any number of classes (a fine-tuned head), read off the bias.
            let classes = match w.dims("fc.bias").as_deref() {
                Some(&[c]) => c,
                _ => 1000,
            };
            Some((
                Linear::new(
                    w.get("fc.weight", &[classes, cin])?.to_device(device)?,
                    Some(w.get("fc.bias", &[classes])?.to_device(device)?),
                ),
                classes,
            ))
        } else {
            None
        };
        Ok(Self {
            kind,
            input,
            device: device.clone(),
            stem,
            blocks,
            fc,
        })
    }

    /// Pooled features of an N x 3 x H x W tensor.
    fn features(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.stem.forward(x)?.relu()?;
        // Max-pool 3x3 stride 2 padding 1; zero padding equals -inf padding after the ReLU.
        let mut x = x
            .pad_with_zeros(2, 1, 1)?
            .pad_with_zeros(3, 1, 1)?
            .max_pool2d_with_stride(3, 2)?;
        for b in &self.blocks {
            x = b.forward(&x)?;
        }
        x.mean((2, 3))
    }
}

impl Backbone for ResNet {
    fn kind(&self) -> BackboneKind {
        self.kind
    }

    fn input(&self) -> &InputSpec {
        &self.input
    }

    fn num_classes(&self) -> Option<usize> {
        self.fc.as_ref().map(|(_, c)| *c)
    }

    fn engine_name(&self) -> String {
        format!("candle on {:?}", self.device.location())
    }

    fn forward(&self, batch: &ImageBatch, with_logits: bool) -> Result<Outputs> {
        check_batch(self.kind, &self.input, batch)?;
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
            (Some((fc, _)), true) => Some(fc.forward(&feats)?.flatten_all()?.to_vec1::<f32>()?),
            _ => None,
        };
        Ok(Outputs {
            embeddings: feats.flatten_all()?.to_vec1::<f32>()?,
            logits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// ResNet weights with torchvision's names: conv weights from `conv(shape)`, every batch
    /// norm the identity plus `beta`, and a 10-class fc.
    fn weights(kind: BackboneKind, beta: f32, conv: &mut dyn FnMut(&[usize]) -> Tensor) -> Weights {
        let dev = Device::Cpu;
        let (depths, bottleneck) = layout(kind).unwrap();
        let exp = if bottleneck { 4 } else { 1 };
        let mut t: HashMap<String, Tensor> = HashMap::new();
        let mut conv_bn = |t: &mut HashMap<String, Tensor>, c: &str, bn: &str, s: [usize; 4]| {
            t.insert(format!("{c}.weight"), conv(&s));
            let o = s[0];
            t.insert(
                format!("{bn}.weight"),
                Tensor::ones(o, candle_core::DType::F32, &dev).unwrap(),
            );
            t.insert(format!("{bn}.bias"), Tensor::full(beta, o, &dev).unwrap());
            t.insert(
                format!("{bn}.running_mean"),
                Tensor::zeros(o, candle_core::DType::F32, &dev).unwrap(),
            );
            t.insert(
                format!("{bn}.running_var"),
                Tensor::full(1.0 - BN_EPS as f32, o, &dev).unwrap(),
            );
        };
        conv_bn(&mut t, "conv1", "bn1", [64, 3, 7, 7]);
        let mut cin = 64;
        for (l, &d) in depths.iter().enumerate() {
            let w = 64 << l;
            for i in 0..d {
                let p = format!("layer{}.{i}", l + 1);
                let shapes: Vec<[usize; 4]> = if bottleneck {
                    vec![[w, cin, 1, 1], [w, w, 3, 3], [w * exp, w, 1, 1]]
                } else {
                    vec![[w, cin, 3, 3], [w, w, 3, 3]]
                };
                for (j, s) in shapes.into_iter().enumerate() {
                    conv_bn(
                        &mut t,
                        &format!("{p}.conv{}", j + 1),
                        &format!("{p}.bn{}", j + 1),
                        s,
                    );
                }
                if i == 0 && (l > 0 || cin != w * exp) {
                    conv_bn(
                        &mut t,
                        &format!("{p}.downsample.0"),
                        &format!("{p}.downsample.1"),
                        [w * exp, cin, 1, 1],
                    );
                }
                cin = w * exp;
            }
        }
        t.insert(
            "fc.weight".into(),
            Tensor::ones((10, cin), candle_core::DType::F32, &dev).unwrap(),
        );
        t.insert("fc.bias".into(), Tensor::full(0.25f32, 10, &dev).unwrap());
        Weights::from_tensors("resnet.safetensors", t)
    }

    fn batch(n: usize, r: usize) -> ImageBatch {
        let mut rng = crate::rng::Rng::new(5);
        ImageBatch {
            n,
            height: r,
            width: r,
            pixels: (0..n * r * r * 3).map(|_| rng.normal()).collect(),
        }
    }

    /// With zero convolutions every conv + BN gives `beta` = 0.5 everywhere, so each block
    /// outputs relu(0.5 + shortcut): a stage's first block 0.5 + 0.5 (its downsample is a conv
    /// too, or the stem's 0.5 through the max-pool), each further block adds 0.5. The
    /// embedding is 0.5 (blocks of the last stage + 1): 1.5 for ResNet-18, 2.0 for ResNet-50.
    #[test]
    fn zero_convolutions_give_the_known_embedding_of_the_block_structure() {
        for (kind, want) in [
            (BackboneKind::ResNet18, 1.5f32),
            (BackboneKind::ResNet50, 2.0),
        ] {
            let w = weights(kind, 0.5, &mut |s| {
                Tensor::zeros(s, candle_core::DType::F32, &Device::Cpu).unwrap()
            });
            let input = kind.input_spec(Some(64)).unwrap();
            let net = ResNet::new(kind, &w, input, &Device::Cpu).unwrap();
            assert_eq!(net.num_classes(), Some(10));
            let out = net.forward(&batch(2, 64), true).unwrap();
            assert_eq!(out.embeddings.len(), 2 * kind.embedding_dim());
            assert!(
                out.embeddings.iter().all(|v| (v - want).abs() < 1e-5),
                "{kind}"
            );
            // fc: all-ones weights over the embedding plus 0.25.
            let logit = want * kind.embedding_dim() as f32 + 0.25;
            let logits = out.logits.unwrap();
            assert_eq!(logits.len(), 20);
            assert!(
                logits.iter().all(|v| (v - logit).abs() < 1e-2 * logit),
                "{kind}"
            );
        }
    }

    #[test]
    fn random_weights_give_distinct_finite_embeddings_and_missing_ones_are_named() {
        let kind = BackboneKind::ResNet18;
        let mut rng = crate::rng::Rng::new(9);
        let w = weights(kind, 0.0, &mut |s| {
            let n: usize = s.iter().product();
            let fan_in = (s[1] * s[2] * s[3]) as f32;
            let v: Vec<f32> = (0..n)
                .map(|_| rng.normal() * (2.0 / fan_in).sqrt())
                .collect();
            Tensor::from_vec(v, s, &Device::Cpu).unwrap()
        });
        let input = kind.input_spec(Some(64)).unwrap();
        let net = ResNet::new(kind, &w, input, &Device::Cpu).unwrap();
        let e = net.embed(&batch(2, 64)).unwrap();
        assert!(e.iter().all(|v| v.is_finite()));
        let d: f32 = e[..512]
            .iter()
            .zip(&e[512..])
            .map(|(a, b)| (a - b).abs())
            .sum();
        assert!(d > 1e-3, "{d}");

        // Through a safetensors file: the same, and a file missing a tensor says which.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r18.safetensors");
        w.save_safetensors(&p).unwrap();
        let cfg = super::super::BackboneConfig {
            resolution: Some(64),
            ..Default::default()
        };
        let loaded = super::super::load(kind, &p, &cfg).unwrap();
        assert_eq!(loaded.embed(&batch(2, 64)).unwrap(), e);
        let mut t = Weights::load(&p).unwrap().into_tensors();
        t.remove("layer3.1.bn2.running_mean");
        let e = ResNet::new(kind, &Weights::from_tensors(&p, t), input, &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("`layer3.1.bn2.running_mean` is missing (expected shape [256])"),
            "{e}"
        );
        // ResNet-18 weights are not ResNet-50's.
        let e = ResNet::new(BackboneKind::ResNet50, &w, input, &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("`layer1.0.conv1.weight` has shape [64, 64, 3, 3], expected [64, 64, 1, 1]"),
            "{e}"
        );
    }
}
