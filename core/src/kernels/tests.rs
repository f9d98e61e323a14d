use super::*;
use crate::format::RawTensor;
use crate::rng::Rng;

fn random_i8(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| ((rng.next_u32() % 255) as i32 - 127) as i8 as u8)
        .collect()
}

/// The non-reference kernels this CPU has.
fn simd_kernels() -> impl Iterator<Item = Kernel> {
    [
        Kernel::Avx2,
        Kernel::AvxVnni,
        Kernel::Avx512Vnni,
        Kernel::ArmDsp,
    ]
    .into_iter()
    .filter(|k| k.is_supported())
}

/// Every row's integer sum of `t · q` with kernel `k` (int8 or int4, by the tensor's dtype).
fn sums<const D: usize>(k: Kernel, t: &Tensor<'_>, q: &QVec<D>) -> Vec<i32> {
    let mut got = vec![0; t.rows];
    matvec_int(k, t, q, |f, v| got[f..f + v.len()].copy_from_slice(v));
    got
}

/// Every kernel this CPU has gives exactly the scalar sums, for widths around every chunk boundary.
#[test]
fn simd_kernels_match_scalar_exactly() {
    let mut rng = Rng::new(3);
    for cols in [
        1, 3, 4, 5, 16, 31, 32, 33, 63, 64, 65, 100, 128, 150, 160, 255,
    ] {
        for rows in [1, 2, 3, 4, 5, 9, 64, 65, 130] {
            let data = random_i8(&mut rng, rows * cols);
            let scales: Vec<u8> = (0..rows).flat_map(|_| 1.0f32.to_le_bytes()).collect();
            let raw = RawTensor {
                dtype: DType::I8RowScaled,
                rows: rows as u32,
                cols: cols as u32,
                data: &data,
                scales: &scales,
            };
            let t = Tensor::new(&raw, rows, cols, crate::TensorName::Dense).unwrap();
            let x: Vec<f32> = (0..cols).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
            let mut q = QVec::<256>::default();
            q.quantize(&x);
            let want = sums(Kernel::Scalar, &t, &q);
            for (r, w) in want.iter().enumerate() {
                let row: Vec<i32> = data[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&b| i32::from(b as i8))
                    .collect();
                assert_eq!(
                    *w,
                    row.iter()
                        .zip(q.values())
                        .map(|(&a, &b)| a * i32::from(b))
                        .sum::<i32>()
                );
            }
            for k in simd_kernels() {
                assert_eq!(sums(k, &t, &q), want, "{k:?} rows={rows} cols={cols}");
            }
        }
    }
}

#[test]
fn quantize_is_symmetric_and_bounded() {
    let mut q = QVec::<8>::default();
    q.quantize(&[0.5, -1.0, 0.25, 0.0]);
    assert_eq!(q.values(), &[64, -127, 32, 0]);
    assert_eq!(q.scale(), 1.0 / 127.0);
    q.quantize(&[0.0; 3]);
    assert_eq!((q.values(), q.scale()), (&[0i8, 0, 0][..], 0.0));
}

#[test]
fn float_matvec_dequantizes() {
    let data = [10u8, (-20i8) as u8];
    let scales = 0.5f32.to_le_bytes();
    let raw = RawTensor {
        dtype: DType::I8RowScaled,
        rows: 1,
        cols: 2,
        data: &data,
        scales: &scales,
    };
    let t = Tensor::new(&raw, 1, 2, crate::TensorName::Dense).unwrap();
    let mut out = 0.0;
    matvec_f32(&t, &[1.0, 2.0], |_, v| out = v[0]);
    assert_eq!(out, 5.0 - 20.0);
}

/// Random int4 bytes in the stored layout: multipliers (0..=63, mostly large), then nibbles `q + 8` with q in
/// [-7, 7], `q = 0` past `cols` in each row's last group.
fn random_i4(rng: &mut Rng, rows: usize, cols: usize) -> Vec<u8> {
    let g = cols.div_ceil(32);
    let mut data: Vec<u8> = (0..rows * g).map(|_| (rng.next_u32() % 64) as u8).collect();
    let mut nibbles = vec![0x88u8; rows * 16 * g];
    for r in 0..rows {
        for c in 0..cols {
            let u = (rng.next_u32() % 15 + 1) as u8;
            let (gi, k) = (c / 32, c % 32);
            let b = &mut nibbles[r * 16 * g + 16 * gi + k % 16];
            *b = if k < 16 {
                (*b & 0xF0) | u
            } else {
                (*b & 0x0F) | (u << 4)
            };
        }
    }
    data.extend_from_slice(&nibbles);
    data
}

/// Every kernel this CPU has gives exactly the scalar sums for int4 rows, for widths around every group
/// boundary (odd and even group counts, more than 16 groups) and row counts around the four-row passes.
#[test]
fn int4_kernels_match_scalar_exactly() {
    let mut rng = Rng::new(5);
    for cols in [
        1, 5, 16, 17, 31, 32, 33, 63, 64, 65, 96, 100, 128, 150, 160, 255, 600, 1000,
    ] {
        for rows in [1, 2, 3, 4, 5, 7, 64, 65, 130] {
            let data = random_i4(&mut rng, rows, cols);
            let scales: Vec<u8> = (0..rows).flat_map(|_| 1.0f32.to_le_bytes()).collect();
            let raw = RawTensor {
                dtype: DType::I4GroupScaled,
                rows: rows as u32,
                cols: cols as u32,
                data: &data,
                scales: &scales,
            };
            let t = Tensor::new(&raw, rows, cols, crate::TensorName::Dense).unwrap();
            let x: Vec<f32> = (0..cols).map(|_| rng.next_f32() * 2.0 - 1.0).collect();
            let mut q = QVec::<1024>::default();
            q.quantize(&x);
            let want = sums(Kernel::Scalar, &t, &q);
            // The reference against the dequantized definition: with scale 1, w = q · m exactly.
            for (r, w) in want.iter().enumerate() {
                let dot: i32 = (0..cols)
                    .map(|c| t.get_f32(r, c) as i32 * i32::from(q.values()[c]))
                    .sum();
                assert_eq!(*w, dot, "reference row {r} cols={cols}");
            }
            for k in simd_kernels() {
                assert_eq!(sums(k, &t, &q), want, "{k:?} rows={rows} cols={cols}");
            }
        }
    }
}

#[test]
fn int4_nibbles_are_checked() {
    let scales = 1.0f32.to_le_bytes();
    let tensor = |data: &[u8]| {
        let raw = RawTensor {
            dtype: DType::I4GroupScaled,
            rows: 1,
            cols: 20,
            data,
            scales: &scales,
        };
        Tensor::new(&raw, 1, 20, crate::TensorName::Dense).map(|_| ())
    };
    // One multiplier, then 16 bytes of nibbles (q + 8).
    let mut data = [0x88u8; 17];
    data[0] = 63;
    data[1 + 3] = 0x8F; // column 3 = 7
    assert_eq!(tensor(&data), Ok(()));
    data[1 + 3] = 0x08; // column 19 = -8
    assert_eq!(
        tensor(&data),
        Err(crate::Error::WeightOutOfRange {
            tensor: crate::TensorName::Dense,
            index: 19
        })
    );
    data[1 + 3] = 0x88;
    data[1 + 5] = 0x98; // column 21 (past cols = 20) must be q = 0
    assert_eq!(tensor(&data), Err(crate::Error::Malformed));
    data[1 + 5] = 0x88;
    data[0] = 64; // multipliers stop at 63
    assert_eq!(tensor(&data), Err(crate::Error::Malformed));
    assert!(matches!(
        tensor(&data[..16]),
        Err(crate::Error::ShapeMismatch { .. })
    ));
}
