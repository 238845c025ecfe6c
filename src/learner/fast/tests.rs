//! The fused kernels against candle's stock operations, finite differences and edge cases.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::Optimizer;

use super::*;
use crate::learner::nets::max_pool2x2_nchw;
use crate::rng::Rng;

fn random(rng: &mut Rng, dims: &[usize], scale: f32) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * scale)
        .collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

fn var(t: Tensor) -> Var {
    Var::from_tensor(&t).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// Largest absolute difference relative to the largest magnitude of `want` (at least 1).
fn assert_close(got: &Tensor, want: &Tensor, tol: f32, what: &str) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes differ");
    let (g, w) = (values(got), values(want));
    let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tol * scale,
        "{what}: max difference {worst} (scale {scale})"
    );
}

/// candle's stock conv2d (padding 1) + bias + ReLU on NHWC data through permutes.
fn stock_conv_relu(x: &Tensor, w_oihw: &Tensor, b: &Tensor) -> Tensor {
    let xc = x.permute((0, 3, 1, 2)).unwrap();
    let y = xc.conv2d(w_oihw, 1, 1, 1, 1).unwrap();
    let y = y
        .broadcast_add(&b.reshape((1, b.dim(0).unwrap(), 1, 1)).unwrap())
        .unwrap();
    y.relu().unwrap().permute((0, 2, 3, 1)).unwrap()
}

fn stock_pool(x: &Tensor) -> Tensor {
    x.permute((0, 3, 1, 2))
        .unwrap()
        .max_pool2d(2)
        .unwrap()
        .permute((0, 2, 3, 1))
        .unwrap()
}

/// The stock-op pool with PyTorch's gradient that the reference CNN uses.
fn reference_pool(x: &Tensor) -> Tensor {
    let x = x.permute((0, 3, 1, 2)).unwrap();
    max_pool2x2_nchw(&x).unwrap().permute((0, 2, 3, 1)).unwrap()
}

/// Sizes (n, h, w, c_in, c_out): odd, tiny, and big enough for several tiles per image; 1 or 3
/// input channels into whole 8-lane blocks take the small-K weight-gradient kernel.
const CONV_SIZES: &[(usize, usize, usize, usize, usize)] = &[
    (3, 7, 5, 3, 4),
    (2, 6, 7, 3, 16),
    (2, 1, 1, 1, 2),
    (1, 2, 3, 2, 1),
    (2, 4, 6, 8, 5),
    (3, 9, 8, 1, 32),
    (2, 20, 17, 32, 8),
    (0, 3, 3, 2, 2),
];

#[test]
fn conv_relu_matches_stock_forward_and_gradients() {
    let mut rng = Rng::new(1);
    for &(n, h, w, ci, co) in CONV_SIZES {
        let x = var(random(&mut rng, &[n, h, w, ci], 1.0));
        let wo = var(random(&mut rng, &[co, ci, 3, 3], 0.5));
        let b = var(random(&mut rng, &[co], 0.5));
        let r = random(&mut rng, &[n, h, w, co], 1.0);

        let want = stock_conv_relu(x.as_tensor(), wo.as_tensor(), b.as_tensor());
        let wf = hwio_from_oihw(wo.as_tensor()).unwrap();
        let got = conv3x3_relu(x.as_tensor(), &wf, b.as_tensor()).unwrap();
        let what = format!("conv {n}x{h}x{w}x{ci}->{co}");
        assert_close(&got, &want, 1e-5, &format!("{what} forward"));

        if n == 0 {
            continue; // candle's stock conv tracks no gradient through an empty batch
        }
        let gw = (want * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gg = (got * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (v, name) in [(&x, "dx"), (&wo, "dw"), (&b, "db")] {
            let (a, e) = (gg.get(v), gw.get(v));
            let (a, e) = (a.expect(&what), e.expect(&what));
            assert_close(a, e, 1e-5, &format!("{what} {name}"));
        }
    }
}

#[test]
fn conv_skips_input_gradient_for_plain_inputs() {
    let mut rng = Rng::new(2);
    let x = random(&mut rng, &[2, 5, 4, 3], 1.0);
    let wf = var(random(&mut rng, &[27, 6], 0.5));
    let b = var(random(&mut rng, &[6], 0.5));
    let op = Conv3x3Relu { input_grad: false };
    let y = x.apply_op3(wf.as_tensor(), b.as_tensor(), op).unwrap();
    let dy = y.ones_like().unwrap();
    let (dx, dw, db) =
        candle_core::CustomOp3::bwd(&op, &x, wf.as_tensor(), b.as_tensor(), &y, &dy).unwrap();
    assert!(dx.is_none());
    assert!(dw.is_some() && db.is_some());
    // Through the public function: a non-variable input gets no gradient either.
    let y = conv3x3_relu(&x, wf.as_tensor(), b.as_tensor()).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert!(g.get(&x).is_none());
    assert!(g.get(wf.as_tensor()).is_some());
}

#[test]
fn conv_accepts_non_contiguous_inputs_and_rejects_bad_shapes() {
    let mut rng = Rng::new(3);
    // An N x C x H x W tensor permuted to N x H x W x C is not contiguous.
    let xc = random(&mut rng, &[2, 3, 5, 4], 1.0);
    let x = xc.permute((0, 2, 3, 1)).unwrap();
    assert!(!x.is_contiguous());
    let wo = random(&mut rng, &[4, 3, 3, 3], 0.5);
    let b = random(&mut rng, &[4], 0.5);
    let got = conv3x3_relu(&x, &hwio_from_oihw(&wo).unwrap(), &b).unwrap();
    assert_close(&got, &stock_conv_relu(&x, &wo, &b), 1e-5, "permuted input");

    let bad_w = random(&mut rng, &[26, 4], 0.5);
    let err = conv3x3_relu(&x, &bad_w, &b).unwrap_err().to_string();
    assert!(err.contains("weight"), "{err}");
    let bad_b = random(&mut rng, &[5], 0.5);
    let err = conv3x3_relu(&x, &hwio_from_oihw(&wo).unwrap(), &bad_b)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bias"), "{err}");
    let err = conv3x3_relu(&xc.flatten_from(2).unwrap(), &bad_w, &b)
        .unwrap_err()
        .to_string();
    assert!(err.contains("4 dimensions"), "{err}");
    let w64 = hwio_from_oihw(&wo).unwrap().to_dtype(DType::F64).unwrap();
    let err = conv3x3_relu(&x, &w64, &b).unwrap_err().to_string();
    assert!(err.contains("f32"), "{err}");
}

/// Pool sizes (n, h, w, c), odd ones included; h or w of 1 give an empty output.
const POOL_SIZES: &[(usize, usize, usize, usize)] = &[
    (3, 7, 5, 3),
    (2, 4, 4, 1),
    (1, 1, 5, 2),
    (2, 6, 1, 2),
    (2, 28, 28, 32),
];

#[test]
fn pool_matches_stock_forward_and_reference_gradient() {
    let mut rng = Rng::new(4);
    for &(n, h, w, c) in POOL_SIZES {
        let x = var(random(&mut rng, &[n, h, w, c], 1.0));
        let got = max_pool2x2(x.as_tensor()).unwrap();
        let what = format!("pool {n}x{h}x{w}x{c}");
        assert_eq!(got.dims(), &[n, h / 2, w / 2, c], "{what}");
        if h >= 2 && w >= 2 {
            let stock = stock_pool(x.as_tensor());
            assert_close(&got, &stock, 0.0, &format!("{what} forward"));
        }
        let want = reference_pool(x.as_tensor());
        assert_close(&got, &want, 0.0, &format!("{what} forward (reference)"));

        let r = random(&mut rng, got.dims(), 1.0);
        let gg = (&got * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gw = (&want * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let dx = gg.get(&x).unwrap();
        match gw.get(&x) {
            Some(want) => assert_close(dx, want, 0.0, &format!("{what} dx")),
            None => assert!(values(dx).iter().all(|&v| v == 0.0), "{what} dx"),
        }
        if h % 2 == 0 && w % 2 == 0 {
            // candle 0.11's max_pool2d backward scales a unique maximum's gradient by 1/4 (and
            // misplaces it on odd sizes, where its nearest upsampling does not line up).
            let stock = stock_pool(x.as_tensor());
            let gs = (&stock * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let scaled = (gs.get(&x).unwrap() * 4.0).unwrap();
            assert_close(dx, &scaled, 1e-6, &format!("{what} dx vs 4 x candle's"));
        }
    }
}

#[test]
fn pool_ties_send_the_gradient_to_the_first_maximum() {
    // One window of each tie pattern (channel = pattern), N=1, 2x2, 5 channels.
    let win: [[f32; 4]; 5] = [
        [1.0, 1.0, 1.0, 1.0],
        [0.0, 2.0, 2.0, 0.0],
        [0.0, 0.0, 3.0, 3.0],
        [-1.0, -2.0, -3.0, -1.0],
        [0.0, f32::NAN, 5.0, f32::NAN],
    ];
    let mut v = vec![0.0f32; 4 * 5];
    for (c, w) in win.iter().enumerate() {
        for (p, &val) in w.iter().enumerate() {
            v[p * 5 + c] = val;
        }
    }
    let x = var(Tensor::from_vec(v, (1, 2, 2, 5), &Device::Cpu).unwrap());
    let y = max_pool2x2(x.as_tensor()).unwrap();
    let yv = values(&y);
    assert_eq!(&yv[..4], &[1.0, 2.0, 3.0, -1.0]);
    assert!(yv[4].is_nan(), "NaN propagates");
    let g = y.sum_all().unwrap().backward().unwrap();
    let dx = values(g.get(&x).unwrap());
    let first = [0usize, 1, 2, 0, 1];
    for (c, &f) in first.iter().enumerate() {
        for p in 0..4 {
            let want = if p == f { 1.0 } else { 0.0 };
            assert_eq!(dx[p * 5 + c], want, "channel {c}, position {p}");
        }
    }
    // The stock-op reference pool of the reference CNN agrees on the finite windows.
    let xs = x.as_tensor().narrow(3, 0, 4).unwrap();
    let xs = var(xs.contiguous().unwrap());
    let gr = reference_pool(xs.as_tensor())
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let dr = values(gr.get(&xs).unwrap());
    for (c, &f) in first.iter().take(4).enumerate() {
        for p in 0..4 {
            assert_eq!(dr[p * 4 + c], if p == f { 1.0 } else { 0.0 });
        }
    }
}

#[test]
fn relu_passes_no_gradient_at_zero() {
    // Zero input and zero bias: every pre-activation is exactly 0.
    let x = var(Tensor::zeros((2, 3, 3, 2), DType::F32, &Device::Cpu).unwrap());
    let wo = var(Tensor::ones((3, 2, 3, 3), DType::F32, &Device::Cpu).unwrap());
    let b = var(Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap());
    let wf = hwio_from_oihw(wo.as_tensor()).unwrap();
    for fused in [false, true] {
        let y = if fused {
            conv3x3_relu_pool(x.as_tensor(), &wf, b.as_tensor()).unwrap()
        } else {
            conv3x3_relu(x.as_tensor(), &wf, b.as_tensor()).unwrap()
        };
        let g = y.sum_all().unwrap().backward().unwrap();
        for v in [&x, &wo, &b] {
            assert!(values(g.get(v).unwrap()).iter().all(|&d| d == 0.0));
        }
    }
    // candle's stock ReLU passes the gradient at 0 (its derivative there is 1, PyTorch's 0).
    let y = stock_conv_relu(x.as_tensor(), wo.as_tensor(), b.as_tensor());
    let g = y.sum_all().unwrap().backward().unwrap();
    assert!(values(g.get(&b).unwrap()).iter().all(|&d| d == 18.0));
}

#[test]
fn fused_conv_pool_matches_conv_then_pool() {
    let mut rng = Rng::new(5);
    let sizes: &[(usize, usize, usize, usize, usize)] = &[
        (3, 7, 5, 3, 4),
        (2, 1, 4, 2, 3),
        (2, 2, 2, 1, 2),
        (2, 28, 28, 1, 32),
        (2, 14, 14, 32, 64),
        (1, 31, 30, 32, 8),
    ];
    let split: Build = |x, w, b| max_pool2x2(&conv3x3_relu(x, w, b)?);
    for &size in sizes {
        // From 8 input channels the fused op runs as Winograd: equal up to rounding.
        let tol = if size.3 >= 8 { 1e-6 } else { 0.0 };
        let ops = [("fused", conv3x3_relu_pool as Build), ("split", split)];
        assert_ops_agree(&mut rng, size, 0.5, ops, (tol, 1e-6));
    }
}

/// A conv op (or a composition) on input, kernel and bias.
type Build = fn(&Tensor, &Tensor, &Tensor) -> candle_core::Result<Tensor>;

/// Two implementations of one conv op on the same random input, kernel (values up to
/// `w_scale`) and bias: the forward within `fwd_tol` and the three gradients of a random
/// weighting of the output within `grad_tol` (relative to scale, see [`assert_close`]).
fn assert_ops_agree(
    rng: &mut Rng,
    (n, h, w, ci, co): (usize, usize, usize, usize, usize),
    w_scale: f32,
    [(name_a, a), (name_b, b_op)]: [(&str, Build); 2],
    (fwd_tol, grad_tol): (f32, f32),
) {
    let x = var(random(rng, &[n, h, w, ci], 1.0));
    let wf = var(random(rng, &[9 * ci, co], w_scale));
    let b = var(random(rng, &[co], w_scale));
    let (xt, wt, bt) = (x.as_tensor(), wf.as_tensor(), b.as_tensor());
    let (ya, yb) = (a(xt, wt, bt).unwrap(), b_op(xt, wt, bt).unwrap());
    let what = format!("{name_a} vs {name_b} {n}x{h}x{w}x{ci}->{co}");
    assert_close(&ya, &yb, fwd_tol, &format!("{what} forward"));
    let r = random(rng, ya.dims(), 1.0);
    let grads = |y: &Tensor| (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let (ga, gb) = (grads(&ya), grads(&yb));
    for (v, name) in [(&x, "dx"), (&wf, "dw"), (&b, "db")] {
        let got = ga.get(v).unwrap();
        assert_close(got, gb.get(v).unwrap(), grad_tol, &format!("{what} {name}"));
    }
}

/// Central differences of `loss(x)` along every coordinate of one variable, in f64 on f32 data.
fn numeric_grad(v: &Var, loss: &dyn Fn() -> f64, eps: f32) -> Vec<f32> {
    let base = values(v.as_tensor());
    let dims = v.dims().to_vec();
    let mut out = Vec::with_capacity(base.len());
    for i in 0..base.len() {
        let mut p = base.clone();
        p[i] += eps;
        v.set(&Tensor::from_vec(p.clone(), dims.as_slice(), &Device::Cpu).unwrap())
            .unwrap();
        let up = loss();
        p[i] -= 2.0 * eps;
        v.set(&Tensor::from_vec(p, dims.as_slice(), &Device::Cpu).unwrap())
            .unwrap();
        let down = loss();
        out.push(((up - down) / (2.0 * eps as f64)) as f32);
    }
    v.set(&Tensor::from_vec(base, dims.as_slice(), &Device::Cpu).unwrap())
        .unwrap();
    out
}

#[test]
fn finite_differences_agree_with_the_backward_passes() {
    // 2 input channels: the direct convolution; 8: the fused pool runs as Winograd.
    for (seed, (n, h, w, ci, co)) in [(6, (2, 4, 5, 2, 3)), (9, (2, 4, 5, 8, 3))] {
        finite_differences_at(seed, n, h, w, ci, co);
    }
}

fn finite_differences_at(seed: u64, n: usize, h: usize, w: usize, ci: usize, co: usize) {
    let mut rng = Rng::new(seed);
    let x = var(random(&mut rng, &[n, h, w, ci], 1.0));
    let wf = var(random(&mut rng, &[9 * ci, co], 0.5));
    let b = var(random(&mut rng, &[co], 0.5));
    let split: Build = |x, w, b| max_pool2x2(&conv3x3_relu(x, w, b)?);
    let builds: [(&str, Build); 3] = [
        ("conv3x3_relu", conv3x3_relu),
        ("conv3x3_relu_pool", conv3x3_relu_pool),
        ("conv3x3_relu + max_pool2x2", split),
    ];
    for (name, f) in builds {
        let out_dims = f(x.as_tensor(), wf.as_tensor(), b.as_tensor())
            .unwrap()
            .dims()
            .to_vec();
        let r = random(&mut rng, &out_dims, 1.0);
        let out = || f(x.as_tensor(), wf.as_tensor(), b.as_tensor()).unwrap();
        let r64 = values(&r);
        // The loss in f64 so that only the op's own rounding enters the differences.
        let loss = || {
            values(&out())
                .iter()
                .zip(&r64)
                .map(|(&o, &w)| o as f64 * w as f64)
                .sum::<f64>()
        };
        let grads = (out() * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (v, what) in [(&x, "dx"), (&wf, "dw"), (&b, "db")] {
            let analytic = values(grads.get(v).unwrap());
            let numeric = numeric_grad(v, &loss, 1e-3);
            let bad = analytic
                .iter()
                .zip(&numeric)
                .filter(|(a, e)| (*a - *e).abs() > 2e-3 * (1.0 + e.abs()))
                .count();
            // A kink (ReLU or a window's maximum) within eps of a point spoils a difference
            // quotient; the random data here has none.
            assert_eq!(bad, 0, "{name} {what}: {analytic:?} vs {numeric:?}");
        }
    }
}

#[test]
fn fast_and_stock_cnn_agree_on_logits_gradients_and_an_adamw_step() {
    use crate::data::ImageShape;
    use crate::learner::classifier::per_sample_cross_entropy;
    use crate::learner::init::ParamFactory;
    use crate::learner::nets::{Cnn, FastCnn, Net};
    use candle_nn::{AdamW, ParamsAdamW, VarMap};

    for (shape, flat_regions) in [
        (ImageShape::new(28, 28, 1), false),
        (ImageShape::new(28, 28, 1), true),
        (ImageShape::new(9, 11, 3), false),
    ] {
        let (n, classes) = (5, 4);
        let mut rng = Rng::new(8);
        let mut x = values(&random(
            &mut rng,
            &[n, shape.height, shape.width, shape.channels],
            1.0,
        ))
        .into_iter()
        .map(|v| v.abs())
        .collect::<Vec<_>>();
        if flat_regions {
            // Like MNIST: mostly zero background, so pool windows have tied maxima.
            for (i, v) in x.iter_mut().enumerate() {
                if (i / 3) % 4 != 0 {
                    *v = 0.0;
                }
            }
        }
        let dims = [n, shape.height, shape.width, shape.channels];
        let x = Tensor::from_vec(x, dims.as_slice(), &Device::Cpu).unwrap();
        let y = Tensor::from_vec(vec![0u32, 1, 2, 3, 1], n, &Device::Cpu).unwrap();

        let (vm_s, vm_f) = (VarMap::new(), VarMap::new());
        let stock = Cnn::new(
            &mut ParamFactory::new(&vm_s, &Device::Cpu, 42),
            shape,
            classes,
        )
        .unwrap();
        let fast = FastCnn::new(
            &mut ParamFactory::new(&vm_f, &Device::Cpu, 42),
            shape,
            classes,
        )
        .unwrap();
        let what = format!("{shape} flat {flat_regions}");
        let (ls, lf) = (stock.forward(&x).unwrap(), fast.forward(&x).unwrap());
        assert_close(&lf, &ls, 1e-5, &format!("{what} logits"));

        let loss = |logits: &Tensor| {
            per_sample_cross_entropy(logits, &y)
                .unwrap()
                .mean_all()
                .unwrap()
        };
        let (gs, gf) = (loss(&ls).backward().unwrap(), loss(&lf).backward().unwrap());
        // Stock conv kernels mapped to the fast layout, everything else as is.
        let as_fast = |name: &str, t: &Tensor| -> Tensor {
            if name.starts_with('c') && name.ends_with("weight") {
                hwio_from_oihw(t).unwrap()
            } else {
                t.clone()
            }
        };
        let (ds, df) = (vm_s.data().lock().unwrap(), vm_f.data().lock().unwrap());
        assert_eq!(ds.len(), 8);
        for (name, vs) in ds.iter() {
            let vf = &df[name];
            assert_close(
                vf.as_tensor(),
                &as_fast(name, vs.as_tensor()),
                0.0,
                &format!("{what} initial {name}"),
            );
            let (a, e) = (gf.get(vf).unwrap(), as_fast(name, gs.get(vs).unwrap()));
            assert_close(a, &e, 1e-4, &format!("{what} gradient {name}"));
        }
        drop((ds, df));

        let p = ParamsAdamW {
            lr: 1e-3,
            ..Default::default()
        };
        let mut os = AdamW::new(vm_s.all_vars(), p.clone()).unwrap();
        let mut of = AdamW::new(vm_f.all_vars(), p).unwrap();
        os.step(&gs).unwrap();
        of.step(&gf).unwrap();
        let (ds, df) = (vm_s.data().lock().unwrap(), vm_f.data().lock().unwrap());
        for (name, vs) in ds.iter() {
            // AdamW's first step is lr * g / (|g| + eps), eps = 1e-8, whose derivative in g is
            // lr * eps / (|g| + eps)^2: a gradient difference at rounding level (Winograd's
            // rounding differs from im2col's) moves the step of a near-zero gradient by up to
            // lr. Each weight gets that bound (capped at 2 lr) over 1e-6.
            let a = values(df[name].as_tensor());
            let e = values(&as_fast(name, vs.as_tensor()));
            let ga = values(gf.get(&df[name]).unwrap());
            let ge = values(&as_fast(name, gs.get(vs).unwrap()));
            for i in 0..a.len() {
                let small = ga[i].abs().min(ge[i].abs()) as f64 + 1e-8;
                let moved = 1e-3 * 1e-8 * (ga[i] - ge[i]).abs() as f64 / (small * small);
                let tol = 1e-6 + moved.min(2e-3) as f32 * 1.01;
                assert!(
                    (a[i] - e[i]).abs() <= tol,
                    "{what} after one step {name}[{i}]: {} vs {} (gradients {} vs {})",
                    a[i],
                    e[i],
                    ga[i],
                    ge[i]
                );
            }
        }
        drop((ds, df));
        let (ls, lf) = (stock.forward(&x).unwrap(), fast.forward(&x).unwrap());
        assert_close(&lf, &ls, 1e-5, &format!("{what} logits after one step"));
    }
}

#[test]
fn the_fast_cnn_s_own_backward_gives_candle_s_gradients_exactly() {
    use crate::data::ImageShape;
    use crate::learner::classifier::per_sample_cross_entropy;
    use crate::learner::init::ParamFactory;
    use crate::learner::nets::{FastCnn, Net};
    use candle_nn::VarMap;

    for (shape, n) in [
        (ImageShape::new(28, 28, 1), 37),
        (ImageShape::new(9, 11, 3), 5),
    ] {
        let classes = 4;
        let mut rng = Rng::new(3);
        let dims = [n, shape.height, shape.width, shape.channels];
        let x: Vec<f32> = values(&random(&mut rng, &dims, 1.0))
            .into_iter()
            .map(f32::abs)
            .collect();
        let x = Tensor::from_vec(x, dims.as_slice(), &Device::Cpu).unwrap();
        let y: Vec<u32> = (0..n as u32).map(|i| i % classes as u32).collect();
        let y = Tensor::from_vec(y, n, &Device::Cpu).unwrap();
        let vm = VarMap::new();
        let net =
            FastCnn::new(&mut ParamFactory::new(&vm, &Device::Cpu, 7), shape, classes).unwrap();
        let mut loss_of = |logits: &Tensor| -> crate::Result<Tensor> {
            Ok(per_sample_cross_entropy(logits, &y)?.mean_all()?)
        };
        let graph_loss = loss_of(&net.forward(&x).unwrap()).unwrap();
        let by_graph = graph_loss.backward().unwrap();
        let (own_loss, own) = net
            .loss_and_grads(&x, &mut loss_of)
            .unwrap()
            .expect("the fused CNN has its own backward pass");
        assert_close(&own_loss, &graph_loss, 0.0, &format!("{shape} loss"));
        let vars = vm.data().lock().unwrap();
        assert_eq!(vars.len(), 8);
        for (name, v) in vars.iter() {
            let (a, e) = (own.get(v).unwrap(), by_graph.get(v).unwrap());
            assert_close(a, e, 0.0, &format!("{shape} gradient of {name}"));
        }
        // Run as separate ops, the net leaves the step to candle's backward.
        let other = VarMap::new();
        let separate = FastCnn::new(
            &mut ParamFactory::new(&other, &Device::Cpu, 7),
            shape,
            classes,
        )
        .unwrap()
        .with_separate_pool();
        assert!(separate.loss_and_grads(&x, &mut loss_of).unwrap().is_none());
    }
}

/// sum(target * p^2) over the variables: gradients 2 * target * p (optimizer tests).
fn quadratic_loss(vars: &[Var], targets: &[Tensor]) -> Tensor {
    let mut total = Tensor::zeros((), DType::F32, &Device::Cpu).unwrap();
    for (v, t) in vars.iter().zip(targets) {
        let l = (v.as_tensor().sqr().unwrap() * t)
            .unwrap()
            .sum_all()
            .unwrap();
        total = (total + l).unwrap();
    }
    total
}

#[test]
fn fused_adamw_matches_candle_adamw() {
    use candle_nn::ParamsAdamW;
    let mut rng = Rng::new(9);
    let shapes: [&[usize]; 3] = [&[70_000], &[3, 4], &[5]];
    let make = || -> Vec<Var> {
        let mut r = Rng::new(10);
        shapes.iter().map(|s| var(random(&mut r, s, 1.0))).collect()
    };
    let (vars_s, vars_f) = (make(), make());
    let p = ParamsAdamW {
        lr: 0.01,
        weight_decay: 0.1,
        ..Default::default()
    };
    let mut os = candle_nn::AdamW::new(vars_s.clone(), p.clone()).unwrap();
    let mut of = AdamW::new(vars_f.clone(), p).unwrap();
    for step in 0..5 {
        let targets: Vec<Tensor> = shapes.iter().map(|s| random(&mut rng, s, 1.0)).collect();
        let loss = |vars: &[Var]| quadratic_loss(vars, &targets);
        os.backward_step(&loss(&vars_s)).unwrap();
        of.backward_step(&loss(&vars_f)).unwrap();
        for (a, b) in vars_f.iter().zip(&vars_s) {
            assert_close(a.as_tensor(), b.as_tensor(), 1e-5, &format!("step {step}"));
        }
    }
}

#[test]
fn fused_sgd_matches_the_tensor_sgd_and_the_momentum_recurrence() {
    use crate::learner::optim::{ParamsSgd, Sgd as TensorSgd};
    let mut rng = Rng::new(19);
    let shapes: [&[usize]; 3] = [&[70_000], &[3, 4], &[5]];
    let make = || -> Vec<Var> {
        let mut r = Rng::new(20);
        shapes.iter().map(|s| var(random(&mut r, s, 1.0))).collect()
    };
    let (vars_s, vars_f) = (make(), make());
    let p = ParamsSgd {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 0.01,
    };
    let mut os = TensorSgd::new(vars_s.clone(), p).unwrap();
    let mut of = Sgd::new(vars_f.clone(), p).unwrap();
    // The recurrence written out for the small variable: d = g + wd * theta,
    // buf = d (first step) or mu * buf + d, theta -= lr * buf.
    let mut theta: Vec<f32> = vars_s[2].as_tensor().to_vec1().unwrap();
    let mut buf = vec![0f32; theta.len()];
    for step in 0..5 {
        let targets: Vec<Tensor> = shapes.iter().map(|s| random(&mut rng, s, 1.0)).collect();
        let t2: Vec<f32> = targets[2].to_vec1().unwrap();
        for i in 0..theta.len() {
            let d = 2.0 * t2[i] * theta[i] + 0.01 * theta[i];
            buf[i] = if step == 0 { d } else { 0.9 * buf[i] + d };
            theta[i] -= 0.05 * buf[i];
        }
        let loss = |vars: &[Var]| quadratic_loss(vars, &targets);
        os.backward_step(&loss(&vars_s)).unwrap();
        of.backward_step(&loss(&vars_f)).unwrap();
        for (a, b) in vars_f.iter().zip(&vars_s) {
            assert_close(a.as_tensor(), b.as_tensor(), 1e-5, &format!("step {step}"));
        }
        let want = Tensor::from_vec(theta.clone(), theta.len(), &Device::Cpu).unwrap();
        assert_close(
            vars_s[2].as_tensor(),
            &want,
            1e-5,
            &format!("recurrence step {step}"),
        );
    }
}

#[test]
fn linear_matches_candle_linear() {
    use candle_core::Module;
    let mut rng = Rng::new(11);
    // (input dims, out): 2-D inputs, a 4-D one flattened by the op, a single row.
    let cases: [(&[usize], usize); 5] = [
        (&[5, 7], 3),
        (&[7, 13], 11),
        (&[4, 3, 2, 6], 9),
        (&[1, 10], 1),
        (&[0, 4], 2),
    ];
    for (dims, out) in cases {
        let inp: usize = dims[1..].iter().product();
        let x = var(random(&mut rng, dims, 1.0));
        let w = var(random(&mut rng, &[out, inp], 0.5));
        let b = var(random(&mut rng, &[out], 0.5));
        for relu in [false, true] {
            let stock = candle_nn::Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
            let mut want = stock
                .forward(&x.as_tensor().flatten_from(1).unwrap())
                .unwrap();
            if relu {
                want = want.relu().unwrap();
            }
            let got = linear(x.as_tensor(), w.as_tensor(), b.as_tensor(), relu).unwrap();
            let what = format!("linear {dims:?} -> {out} relu {relu}");
            assert_close(&got, &want, 1e-5, &format!("{what} forward"));
            if dims[0] == 0 {
                continue;
            }
            let r = random(&mut rng, got.dims(), 1.0);
            let gg = (&got * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let gw = (&want * &r).unwrap().sum_all().unwrap().backward().unwrap();
            for (v, name) in [(&x, "dx"), (&w, "dw"), (&b, "db")] {
                let (a, e) = (gg.get(v).unwrap(), gw.get(v).unwrap());
                assert_close(a, e, 1e-5, &format!("{what} {name}"));
            }
        }
    }
    let err = linear(
        &random(&mut rng, &[2, 5], 1.0),
        &random(&mut rng, &[3, 4], 1.0),
        &random(&mut rng, &[3], 1.0),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("expects 4"), "{err}");
}

/// `n` images of random pixels, labelled round-robin over `classes` classes.
fn random_set(
    shape: crate::data::ImageShape,
    n: usize,
    classes: usize,
    seed: u64,
) -> crate::data::Dataset {
    let mut rng = Rng::new(seed);
    let pixels = (0..n * shape.len()).map(|_| rng.below(256) as u8).collect();
    let labels = (0..n).map(|i| (i % classes) as u32).collect();
    let ids = (0..n).map(|i| i.to_string()).collect();
    let names = (0..classes).map(|c| c.to_string()).collect();
    crate::data::Dataset::from_parts(
        "t",
        crate::data::Source::Memory,
        names,
        shape,
        pixels,
        labels,
        ids,
    )
    .unwrap()
}

#[test]
fn classifier_trains_the_same_with_stock_and_fast_implementations() {
    use crate::data::ImageShape;
    use crate::itlm::{Learner, Tick};
    use crate::learner::{Classifier, CnnImpl, LearnerConfig, OptimizerKind};

    let (shape, n, classes) = (ImageShape::new(9, 8, 1), 40, 3);
    let data = random_set(shape, n, classes, 12);
    let idx: Vec<usize> = (0..n).collect();
    for optimizer in [OptimizerKind::Adamw, OptimizerKind::Sgd] {
        let cfg = LearnerConfig {
            batch_size: 16,
            score_batch_size: 32,
            optimizer,
            lr: optimizer.default_lr(),
            ..Default::default()
        };
        let mut scores = Vec::new();
        for imp in [CnnImpl::Stock, CnnImpl::Fast] {
            let mut c =
                Classifier::with_cnn_impl(cfg.clone(), shape, classes, Device::Cpu, imp).unwrap();
            c.reset(3).unwrap();
            let mut tick = |_: Tick| Ok(());
            let before = c.score(&data, &idx, &mut tick).unwrap();
            c.train(&data, &idx, 2.0, 5, &mut tick).unwrap();
            let after = c.score(&data, &idx, &mut tick).unwrap();
            assert_ne!(
                before.loss, after.loss,
                "{optimizer} {imp:?}: training changed nothing"
            );
            scores.push(after);
        }
        let (s, f) = (&scores[0], &scores[1]);
        assert_eq!(s.predicted, f.predicted, "{optimizer}");
        for (a, b) in s.loss.iter().zip(&f.loss) {
            assert!(
                (a - b).abs() < 1e-4 * (1.0 + a.abs()),
                "{optimizer}: loss {a} vs {b}"
            );
        }
    }
}

#[test]
fn cosine_schedule_starts_at_the_full_rate_then_decays() {
    use crate::data::ImageShape;
    use crate::itlm::{Learner, Tick};
    use crate::learner::{Classifier, LearnerConfig, LrSchedule, OptimizerKind};

    let (shape, n, classes) = (ImageShape::new(8, 8, 1), 64, 2);
    let data = random_set(shape, n, classes, 21);
    let idx: Vec<usize> = (0..n).collect();
    // 16 samples a batch: 0.25 epoch is one batch, 2 epochs are eight.
    let losses = |schedule: LrSchedule, epochs: f64| {
        let cfg = LearnerConfig {
            batch_size: 16,
            optimizer: OptimizerKind::Sgd,
            lr: 0.05,
            lr_schedule: schedule,
            ..Default::default()
        };
        let mut c = Classifier::new(cfg, shape, classes, Device::Cpu).unwrap();
        c.reset(4).unwrap();
        let mut tick = |_: Tick| Ok(());
        c.train(&data, &idx, epochs, 6, &mut tick).unwrap();
        c.score(&data, &idx, &mut tick).unwrap().loss
    };
    assert_eq!(
        losses(LrSchedule::Constant, 0.25),
        losses(LrSchedule::Cosine, 0.25),
        "the first batch runs at the full rate"
    );
    assert_ne!(
        losses(LrSchedule::Constant, 2.0),
        losses(LrSchedule::Cosine, 2.0),
        "later batches run at lower rates"
    );
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = Rng::new(13);
    let x = var(random(&mut rng, &[7, 10, 9, 4], 1.0));
    let wf = var(random(&mut rng, &[36, 6], 0.5));
    let b = var(random(&mut rng, &[6], 0.5));
    let fw = var(random(&mut rng, &[5, 5 * 4 * 6], 0.5));
    let fb = var(random(&mut rng, &[5], 0.5));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let h = conv3x3_relu_pool(x.as_tensor(), wf.as_tensor(), b.as_tensor()).unwrap();
            let y = linear(&h, fw.as_tensor(), fb.as_tensor(), true).unwrap();
            let g = y.sum_all().unwrap().backward().unwrap();
            let mut out = values(&y);
            for v in [&x, &wf, &b, &fw, &fb] {
                out.extend(values(g.get(v).unwrap()));
            }
            out
        })
    };
    let one = run(1);
    for threads in [2, 3] {
        assert!(one == run(threads), "{threads} threads differ from 1");
    }
}

#[test]
fn winograd_matches_the_direct_convolution_forward_and_backward() {
    let mut rng = Rng::new(11);
    // (n, h, w, c_in, c_out): the CNN's second layer, odd sizes (the last row or column is in
    // no window), one window, more images than gradient groups, tiles of a product batch
    // spanning images, no images.
    let sizes: &[(usize, usize, usize, usize, usize)] = &[
        (32, 16, 16, 32, 64),
        (3, 14, 14, 32, 64),
        (2, 7, 9, 8, 5),
        (1, 2, 2, 8, 3),
        (2, 16, 16, 16, 16),
        (20, 6, 6, 8, 4),
        (3, 3, 11, 9, 7),
        (0, 4, 4, 8, 8),
    ];
    for &size in sizes {
        let ops = [
            ("winograd", conv3x3_relu_pool as Build),
            ("direct", conv3x3_relu_pool_direct),
        ];
        assert_ops_agree(&mut rng, size, 0.3, ops, (2e-6, 2e-6));
    }
}

#[test]
fn winograd_leaves_first_layers_to_the_direct_convolution() {
    // Below 8 input channels the ops are the same computation, so bit for bit equal.
    let mut rng = Rng::new(12);
    let x = random(&mut rng, &[2, 8, 8, 3], 1.0);
    let wf = random(&mut rng, &[27, 16], 0.3);
    let b = random(&mut rng, &[16], 0.3);
    let a = conv3x3_relu_pool(&x, &wf, &b).unwrap();
    let d = conv3x3_relu_pool_direct(&x, &wf, &b).unwrap();
    assert_eq!(values(&a), values(&d));
}

#[test]
fn the_first_layer_kernel_gives_the_gemm_path_s_bits() {
    use super::conv::{forward_pool_direct, Geom};
    let probe = Geom {
        n: 1,
        h: 28,
        w: 28,
        cin: 1,
        cout: 32,
    };
    if !super::first_layer::applies(&probe) {
        eprintln!("this CPU has no AVX-512: the first-layer kernel is not used here");
        return;
    }
    let mut rng = Rng::new(41);
    let (mut saw_nan, mut positions) = (false, [false; 4]);
    // Shapes: Fashion-MNIST's, odd sizes (a last row and column the pool drops), the smallest.
    for (n, h, w) in [(3, 28, 28), (2, 7, 9), (2, 2, 2), (1, 5, 4)] {
        let g = Geom {
            n,
            h,
            w,
            cin: 1,
            cout: 32,
        };
        let mut x: Vec<f32> = (0..n * h * w).map(|_| rng.normal()).collect();
        // Ties and zeros: a flat patch (equal conv outputs inside it), exact zeros, a NaN.
        for v in x.iter_mut().take(2 * w) {
            *v = 0.25;
        }
        x[h * w - 1] = 0.0;
        x[(n - 1) * h * w + w + 1] = f32::NAN;
        let wt: Vec<f32> = (0..9 * 32).map(|_| 0.3 * rng.normal()).collect();
        let mut bias: Vec<f32> = (0..32).map(|_| 0.1 * rng.normal()).collect();
        bias[3] = -10.0; // a channel ReLU zeroes everywhere: every window ties at 0
        let (ph, pw) = g.pooled();
        let len = n * ph * pw * 32;
        let run = |register_kernel: bool| {
            let (mut y, mut arg) = (vec![7.0f32; len], vec![9u8; len]);
            forward_pool_direct(&g, &x, &wt, &bias, &mut y, &mut arg, register_kernel);
            (y, arg)
        };
        let (ya, aa) = run(true);
        let (yb, ab) = run(false);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&ya), bits(&yb), "outputs differ at {n} x {h} x {w}");
        assert_eq!(aa, ab, "argmaxes differ at {n} x {h} x {w}");
        saw_nan |= ya.iter().any(|v| v.is_nan());
        for i in 0..4u8 {
            positions[i as usize] |= aa.contains(&i);
        }
    }
    assert!(saw_nan, "the NaN did not reach an output");
    assert!(
        positions.iter().all(|&p| p),
        "some window position never held a maximum"
    );
}
