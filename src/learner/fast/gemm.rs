//! A bounds-checked wrapper over the `gemm` crate for strided f32 matrices.

/// A read-only strided matrix: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major matrix with `cols` values per row.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Rows `r0..r0 + rows` (no copy).
    pub fn row_range(self, r0: usize, rows: usize) -> Self {
        assert!(r0 + rows <= self.rows, "gemm: row range out of bounds");
        Self {
            data: if rows == 0 {
                &[]
            } else {
                &self.data[r0 * self.rs..]
            },
            rows,
            ..self
        }
    }

    fn fits(&self) -> bool {
        span(self.rows, self.cols, self.rs, self.cs) <= self.data.len()
    }
}

/// Number of values a rows x cols strided matrix touches from its first element.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// All of rayon's threads for gemm's own split of a product (none when there is one).
pub(crate) fn threads() -> gemm::Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => gemm::Parallelism::None,
        n => gemm::Parallelism::Rayon(n),
    }
}

/// `dst = a @ b` (or `dst += a @ b` when `accumulate`), `dst` row-major with `dst_rs` values
/// per row. Panics if a matrix does not fit its slice or the shapes do not match: callers
/// derive every size from already validated shapes, so a panic here is a bug in this module.
pub(crate) fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    a: MatRef<'_>,
    b: MatRef<'_>,
    parallelism: gemm::Parallelism,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "gemm: inner dimensions differ");
    assert!(a.fits() && b.fits(), "gemm: operand out of bounds");
    assert!(
        span(m, n, dst_rs, 1) <= dst.len() && (m <= 1 || dst_rs >= n),
        "gemm: destination out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: the asserts above keep every element gemm reads or writes inside its slice;
    // `dst` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// [`matmul`] with `a`'s rows (and `dst`'s) split evenly over rayon's threads, each block one
/// single-threaded product: for a product with few output columns and a long inner dimension
/// (a fully connected layer on a batch), where gemm's own parallel split measured slower
/// (`THROUGHPUT_OPS=1`: fc1 forward at 91 GFLOP/s on 2 threads).
///
/// Only where every block gives the same bits as the whole product: gemm 0.19 picks its
/// K blocking from K alone when the product has more than 64 columns, but from the rows too
/// for 64 or fewer (`K.min(512)` for at most 64 x 64, its cache model above), and runs
/// products of at most 256 values with dot-product kernels that sum in another order. With
/// more than 64 columns and blocks of at least 16 rows neither happens; narrower products
/// (a classifier's last layer, a head's classes) run whole.
pub(crate) fn matmul_split_rows(
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    a: MatRef<'_>,
    b: MatRef<'_>,
) {
    use rayon::prelude::*;
    let m = a.rows;
    // Blocks of at least 16 rows, as many as there are threads.
    let blocks = rayon::current_num_threads().min(m / 16);
    if blocks < 2 || b.cols <= 64 || dst_rs == 0 {
        matmul(dst, dst_rs, accumulate, a, b, threads());
        return;
    }
    // Rows i m / blocks.., so each block has floor or ceil of m / blocks rows.
    let mut parts = Vec::with_capacity(blocks);
    let mut rest = &mut dst[..span(m, b.cols, dst_rs, 1)];
    for i in 0..blocks {
        let (r0, r1) = (i * m / blocks, (i + 1) * m / blocks);
        let take = if i + 1 == blocks {
            rest.len()
        } else {
            (r1 - r0) * dst_rs
        };
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(take);
        parts.push((head, r0, r1 - r0));
        rest = tail;
    }
    parts.into_par_iter().for_each(|(d, r0, rows)| {
        matmul(
            d,
            dst_rs,
            accumulate,
            a.row_range(r0, rows),
            b,
            gemm::Parallelism::None,
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with many mantissa bits, so that any change in the order of a sum shows.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32 - 0.5) * 3.7
            })
            .collect()
    }

    /// `matmul_split_rows` gives the whole product's bits, on 2 and 3 threads: on the fully
    /// connected layers' forward shapes (where it runs), and on their gradients' shapes (the
    /// output gradient read transposed; a last batch of 1 or 2 samples runs gemm's
    /// outer-product kernel), where it was measured and not kept (README, "Performance").
    /// The narrow shapes check the guard: split, they would take other kernels.
    #[test]
    fn split_rows_gives_the_whole_product_s_bits() {
        // (rows, inner, cols, lhs transposed, rhs transposed)
        let shapes = [
            (128, 3136, 128, false, true),  // fc1 forward: x w^T
            (128, 128, 3136, false, false), // fc1 input gradient: dy w
            (128, 128, 3136, true, false),  // fc1 weight gradient: dy^T x
            (128, 1, 3136, true, false),    // a last batch of one sample
            (128, 2, 3136, true, false),    // ... of two
            (37, 100, 65, false, true),     // odd rows, just over 64 columns
            (33, 1280, 200, false, true),   // a head on 1280 embedding dimensions
            (10, 128, 128, true, false),    // a classifier's last layer: too few rows
            // Too few columns, run whole: split, blocks of 16 rows x 10 would run gemm's
            // dot-product kernels, and 64 rows x 40 would take another K blocking.
            (32, 128, 10, false, true),
            (128, 1000, 40, false, true),
        ];
        for pool_threads in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(pool_threads)
                .build()
                .unwrap();
            for (i, &(m, k, n, lhs_t, rhs_t)) in shapes.iter().enumerate() {
                let a_data = values(m * k, i as u32);
                let b_data = values(k * n, 100 + i as u32);
                let a = if lhs_t {
                    MatRef::row_major(&a_data, k, m).t()
                } else {
                    MatRef::row_major(&a_data, m, k)
                };
                let b = if rhs_t {
                    MatRef::row_major(&b_data, n, k).t()
                } else {
                    MatRef::row_major(&b_data, k, n)
                };
                for accumulate in [false, true] {
                    let start = values(m * n, 200 + i as u32);
                    let mut whole = start.clone();
                    let mut whole_threads = start.clone();
                    let mut split = start.clone();
                    pool.install(|| {
                        matmul(&mut whole, n, accumulate, a, b, gemm::Parallelism::None);
                        matmul(&mut whole_threads, n, accumulate, a, b, threads());
                        matmul_split_rows(&mut split, n, accumulate, a, b);
                    });
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&whole),
                        bits(&whole_threads),
                        "gemm's own split, {m}x{k}x{n}"
                    );
                    assert_eq!(
                        bits(&whole),
                        bits(&split),
                        "{pool_threads} threads, {m}x{k}x{n}, lhs transposed {lhs_t}, accumulate \
                         {accumulate}"
                    );
                }
            }
        }
    }
}
