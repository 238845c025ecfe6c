//! The classifier networks: a small CNN (conv 32 -> pool -> conv 64 -> pool -> fc 128 ->
//! classes) on candle's stock operations or on the fused CPU kernels, and an MLP. Inputs are
//! batches in N x H x W x C layout, scaled to [0, 1].

use candle_core::backprop::GradStore;
use candle_core::{DType, Module, Tensor, Var};
use candle_nn::{Conv2d, Conv2dConfig, Linear};

use super::fast;
use super::init::ParamFactory;
use crate::data::ImageShape;
use crate::error::{Error, Result};

/// A network mapping an N x H x W x C batch to N x classes logits.
pub trait Net: Send {
    /// The penultimate layer's activations (N x width, after its ReLU): the representation the
    /// last layer reads, which spectral signatures score.
    fn features(&self, x: &Tensor) -> Result<Tensor>;

    /// The last layer on [`Net::features`]' output: N x classes logits.
    fn head(&self, features: &Tensor) -> Result<Tensor>;

    /// The width of [`Net::features`]' output.
    fn feature_dim(&self) -> usize;

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.head(&self.features(x)?)
    }

    /// One training step's loss and parameter gradients by the net's own backward pass:
    /// `loss_of` turns the batch `x`'s logits into the loss. None for a net without one
    /// (candle's `backward` on [`Net::forward`]'s graph is the way there).
    fn loss_and_grads(
        &self,
        _x: &Tensor,
        _loss_of: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<Option<(Tensor, GradStore)>> {
        Ok(None)
    }
}

/// Weight (out x in) and bias of a fully connected layer.
fn linear_params(
    p: &mut ParamFactory,
    name: &str,
    inp: usize,
    out: usize,
) -> Result<(Tensor, Tensor)> {
    let w = p.weight(&format!("{name}.weight"), &[out, inp], inp)?;
    let b = p.weight(&format!("{name}.bias"), &[out], inp)?;
    Ok((w, b))
}

fn linear(p: &mut ParamFactory, name: &str, inp: usize, out: usize) -> Result<Linear> {
    let (w, b) = linear_params(p, name, inp, out)?;
    Ok(Linear::new(w, Some(b)))
}

fn conv3x3(p: &mut ParamFactory, name: &str, inp: usize, out: usize) -> Result<Conv2d> {
    let fan_in = inp * 9;
    let w = p.weight(&format!("{name}.weight"), &[out, inp, 3, 3], fan_in)?;
    let b = p.weight(&format!("{name}.bias"), &[out], fan_in)?;
    let cfg = Conv2dConfig {
        padding: 1,
        ..Default::default()
    };
    Ok(Conv2d::new(w, Some(b), cfg))
}

/// 2x2 max-pool (stride 2, floor) of an N x C x H x W tensor on candle's stock operations (any
/// device), with PyTorch's gradient: all of a window's gradient goes to its first maximum.
///
/// Not `Tensor::max_pool2d`: candle 0.11's backward of it multiplies the gradient by the share
/// of tied maxima in the window (so by 1/4 for the usual unique maximum), which makes the conv
/// gradients 4 and 16 times too small and weights tied windows (flat image regions) 4 times
/// more than others.
pub fn max_pool2x2_nchw(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (ph, pw) = (h / 2, w / 2);
    if ph == 0 || pw == 0 {
        return Ok(Tensor::zeros((n, c, ph, pw), x.dtype(), x.device())?);
    }
    let win = x
        .narrow(2, 0, 2 * ph)?
        .narrow(3, 0, 2 * pw)?
        .reshape((n, c, ph, 2, pw, 2))?
        .permute((0, 1, 2, 4, 3, 5))?
        .reshape((n, c, ph, pw, 4))?;
    let max = win.max_keepdim(4)?.broadcast_as(win.shape())?;
    let is_max = win.eq(&max)?;
    // The first maximum: equal to the max and the first such in the window.
    let first = is_max.mul(&is_max.to_dtype(DType::F32)?.cumsum(4)?.eq(1f64)?)?;
    Ok(first.where_cond(&win, &win.zeros_like()?)?.sum(4)?)
}

/// The CNN on candle's stock operations (any device).
pub struct Cnn {
    c1: Conv2d,
    c2: Conv2d,
    f1: Linear,
    f2: Linear,
}

impl Cnn {
    pub fn new(p: &mut ParamFactory, shape: ImageShape, classes: usize) -> Result<Self> {
        let flat = 64 * (shape.height / 4) * (shape.width / 4);
        Ok(Self {
            c1: conv3x3(p, "c1", shape.channels, 32)?,
            c2: conv3x3(p, "c2", 32, 64)?,
            f1: linear(p, "f1", flat, 128)?,
            f2: linear(p, "f2", 128, classes)?,
        })
    }
}

impl Net for Cnn {
    fn features(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.permute((0, 3, 1, 2))?.contiguous()?;
        let x = max_pool2x2_nchw(&self.c1.forward(&x)?.relu()?)?;
        let x = max_pool2x2_nchw(&self.c2.forward(&x)?.relu()?)?;
        // Flatten in H x W x C order so both CNN implementations share the fc layout.
        let x = x.permute((0, 2, 3, 1))?.flatten_from(1)?;
        Ok(self.f1.forward(&x)?.relu()?)
    }

    fn head(&self, features: &Tensor) -> Result<Tensor> {
        Ok(self.f2.forward(features)?)
    }

    fn feature_dim(&self) -> usize {
        self.f1.weight().dims()[0]
    }
}

/// The same CNN as [`Cnn`] on the fused CPU kernels of [`fast`] (CPU only): same parameter
/// names, flatten order and, for a seed, the same parameter values; the conv kernels are
/// stored as (9 C_in) x C_out ([`fast::hwio_from_oihw`] of `Cnn`'s).
pub struct FastCnn {
    c1: (Tensor, Tensor),
    c2: (Tensor, Tensor),
    f1: (Tensor, Tensor),
    f2: (Tensor, Tensor),
    fuse_pool: bool,
}

fn fast_conv3x3(
    p: &mut ParamFactory,
    name: &str,
    inp: usize,
    out: usize,
) -> Result<(Tensor, Tensor)> {
    let fan_in = inp * 9;
    let w = p.weight_arranged(&format!("{name}.weight"), &[out, inp, 3, 3], fan_in, |w| {
        Ok(fast::hwio_from_oihw(&w)?)
    })?;
    let b = p.weight(&format!("{name}.bias"), &[out], fan_in)?;
    Ok((w, b))
}

impl FastCnn {
    pub fn new(p: &mut ParamFactory, shape: ImageShape, classes: usize) -> Result<Self> {
        let flat = 64 * (shape.height / 4) * (shape.width / 4);
        Ok(Self {
            c1: fast_conv3x3(p, "c1", shape.channels, 32)?,
            c2: fast_conv3x3(p, "c2", 32, 64)?,
            f1: linear_params(p, "f1", flat, 128)?,
            f2: linear_params(p, "f2", 128, classes)?,
            fuse_pool: true,
        })
    }

    /// Runs conv + ReLU and the pool as two ops instead of one (for comparisons).
    pub fn with_separate_pool(mut self) -> Self {
        self.fuse_pool = false;
        self
    }

    fn conv_block(&self, x: &Tensor, (w, b): &(Tensor, Tensor)) -> Result<Tensor> {
        Ok(if self.fuse_pool {
            fast::conv3x3_relu_pool(x, w, b)?
        } else {
            fast::max_pool2x2(&fast::conv3x3_relu(x, w, b)?)?
        })
    }
}

impl Net for FastCnn {
    fn features(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.conv_block(x, &self.c1)?;
        let x = self.conv_block(&x, &self.c2)?;
        // The linear op reads N x H/4 x W/4 x 64 as N x (H/4 W/4 64): H x W x C order, as in
        // `Cnn`.
        Ok(fast::linear(&x, &self.f1.0, &self.f1.1, true)?)
    }

    fn head(&self, features: &Tensor) -> Result<Tensor> {
        Ok(fast::linear(features, &self.f2.0, &self.f2.1, false)?)
    }

    fn feature_dim(&self) -> usize {
        self.f1.1.elem_count()
    }

    /// The fused ops' backward passes in reverse order ([`fast::Layer`]): the same gradients
    /// as candle's `backward`, without its zero-filled buffer per gradient.
    fn loss_and_grads(
        &self,
        x: &Tensor,
        loss_of: &mut dyn FnMut(&Tensor) -> Result<Tensor>,
    ) -> Result<Option<(Tensor, GradStore)>> {
        if !self.fuse_pool {
            return Ok(None);
        }
        let c1 = fast::Layer::conv3x3_relu_pool(x, &self.c1.0, &self.c1.1)?;
        let c2 = fast::Layer::conv3x3_relu_pool(c1.output(), &self.c2.0, &self.c2.1)?;
        let f1 = fast::Layer::linear(c2.output(), &self.f1.0, &self.f1.1, true)?;
        let f2 = fast::Layer::linear(f1.output(), &self.f2.0, &self.f2.1, false)?;
        // The loss on the logits as a leaf: candle's backward walks only the loss's own ops.
        let logits = Var::from_tensor(&f2.output().detach())?;
        let loss = loss_of(logits.as_tensor())?;
        let mut grads = loss.backward()?;
        let missing = || Error::Model("the loss does not depend on the logits".into());
        let mut d = grads.remove(logits.as_tensor()).ok_or_else(missing)?;
        for layer in [&f2, &f1, &c2, &c1] {
            match layer.backward(&d, &mut grads)? {
                Some(dx) => d = dx,
                None => break,
            }
        }
        Ok(Some((loss, grads)))
    }
}

/// Two hidden layers (256, 128) on the flattened image.
pub struct Mlp {
    f1: Linear,
    f2: Linear,
    f3: Linear,
}

impl Mlp {
    pub fn new(p: &mut ParamFactory, shape: ImageShape, classes: usize) -> Result<Self> {
        let inp = shape.len();
        Ok(Self {
            f1: linear(p, "f1", inp, 256)?,
            f2: linear(p, "f2", 256, 128)?,
            f3: linear(p, "f3", 128, classes)?,
        })
    }
}

impl Net for Mlp {
    fn features(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.flatten_from(1)?;
        let x = self.f1.forward(&x)?.relu()?;
        Ok(self.f2.forward(&x)?.relu()?)
    }

    fn head(&self, features: &Tensor) -> Result<Tensor> {
        Ok(self.f3.forward(features)?)
    }

    fn feature_dim(&self) -> usize {
        self.f2.weight().dims()[0]
    }
}
