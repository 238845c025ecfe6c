//! Fused CPU kernels for the CNN as candle custom ops (f32, N x H x W x C): 3x3 convolution
//! with bias and ReLU, 2x2 max-pool, both fused into one op, and a fully connected layer with
//! bias and optional ReLU, each with its backward pass; and an AdamW that updates each
//! variable in one in-place pass.
//!
//! The convolution is im2col + the `gemm` crate on tiles of output rows that fit in cache, one
//! image per rayon task; the weight layout is `(9 * C_in) x C_out`, rows ordered
//! `(ky, kx, c_in)`, so a 3x3 window of an NHWC image is three contiguous runs of `3 * C_in`
//! values. The fused conv + ReLU + pool with 8 or more input channels (the CNN's second layer)
//! runs as Winograd F(2x2, 3x3) instead ([`winograd`]: 2.25x fewer multiplies, forward and
//! both gradients); a first layer's weight gradient (K = 9 or 27) has its own register-blocked
//! kernel, and a grey first layer of 32 channels its forward pass on AVX-512 CPUs
//! ([`first_layer`]: conv, ReLU and pool per window in registers, the same bits). Scratch
//! buffers are thread-local and reused across batches; the element-wise loops are compiled for
//! AVX2 + FMA where the CPU has them ([`simd`]).
//!
//! Conventions (the same as PyTorch's): ReLU passes no gradient at exactly zero; a max-pool
//! window sends its gradient to the first maximum in row-major order; odd sizes are floored.
//! Candle's stock `max_pool2d` backward differs (it scales the gradient by the share of tied
//! maxima, i.e. by 1/4 for a unique maximum) and its ReLU passes gradient at zero; see the tests.

mod adamw;
mod conv;
mod first_layer;
mod fused_opt;
pub(crate) mod gemm;
mod linear;
mod pool;
mod process;
mod scratch;
mod sgd;
pub(crate) mod simd;
mod step;
mod winograd;

pub use adamw::AdamW;
pub use conv::{
    conv3x3_relu, conv3x3_relu_pool, conv3x3_relu_pool_direct, hwio_from_oihw, Conv3x3Relu,
    Conv3x3ReluPool,
};
pub use linear::{linear, Linear};
pub use pool::{max_pool2x2, MaxPool2x2};
pub use process::tune_process_for_cpu_training;
pub use sgd::Sgd;
pub use step::Layer;

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, Layout, Result, Storage, Tensor};

/// The contiguous f32 values of a CPU storage viewed through `layout`.
fn cpu_f32<'a>(s: &'a CpuStorage, layout: &Layout, op: &str, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{op}: {what} must be f32, got {:?}", s.dtype())
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("{op}: {what} must be contiguous (call .contiguous() first)"),
    }
}

/// Same as [`cpu_f32`] for a storage behind a tensor's lock.
fn storage_f32<'a>(s: &'a Storage, layout: &Layout, op: &str, what: &str) -> Result<&'a [f32]> {
    match s {
        Storage::Cpu(c) => cpu_f32(c, layout, op, what),
        _ => bail!("{op}: {what} must be on the CPU"),
    }
}

/// An f32 CPU tensor made of `values`.
fn cpu_tensor(values: Vec<f32>, dims: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(values, dims, &candle_core::Device::Cpu)
}

/// The dims of `layout` as exactly `N` values, or an error naming the op and operand.
fn dims<const N: usize>(layout: &Layout, op: &str, what: &str) -> Result<[usize; N]> {
    match <[usize; N]>::try_from(layout.dims()) {
        Ok(d) => Ok(d),
        Err(_) => bail!(
            "{op}: {what} must have {N} dimensions, got shape {:?}",
            layout.dims()
        ),
    }
}

/// A vector of `len` values whose contents the caller overwrites completely.
fn uninit_vec(len: usize) -> Vec<f32> {
    // Zero-filled, which keeps the code safe.
    zeroed(len)
}

/// Below this many values a buffer is zeroed on the calling thread.
const PARALLEL_ZERO: usize = 1 << 16;

/// `len` zeros, written by all of rayon's threads for a large buffer. With the process tuning
/// ([`tune_process_for_cpu_training`]) a batch's buffers come back from glibc's heap, not as
/// fresh zero pages, so `vec![0; len]` zeroes them with `memset` on the one thread that runs
/// the op's serial part, while the other threads wait: 3% of a training step's samples.
pub(super) fn zeroed<T: Copy + Default + Send + Sync>(len: usize) -> Vec<T> {
    use rayon::prelude::*;
    if len < PARALLEL_ZERO || rayon::current_num_threads() < 2 {
        return vec![T::default(); len];
    }
    let mut v = Vec::with_capacity(len);
    v.par_extend(rayon::iter::repeat_n(T::default(), len));
    v
}

#[cfg(test)]
mod tests;
