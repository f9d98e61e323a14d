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
                dtype: DType::I8RowScaled.code(),
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
        dtype: DType::I8RowScaled.code(),
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

/// Random int4 bytes in the stored layout: multipliers (0..=63) of the real rows, nibbles `q + 8` with q in
/// [-7, 7]; the padding rows and columns zero.
fn random_i4(rng: &mut Rng, rows: usize, cols: usize) -> Vec<u8> {
    let s = crate::int4::Int4Shape::new(rows, cols);
    let mut data = vec![0x88u8; s.len().unwrap()];
    data[..s.mult_len()].fill(0);
    for r in 0..rows {
        for g in 0..s.groups {
            data[s.mult_at(r, g)] = (rng.next_u32() % 64) as u8;
        }
        for c in 0..cols {
            s.set_q(&mut data, r, c, (rng.next_u32() % 15) as i8 - 7);
        }
    }
    data
}

/// Every kernel this CPU has gives exactly the scalar sums for int4 rows, for widths around every group
/// boundary (odd and even group counts, more than 16 groups) and row counts around the 32-row blocks and the
/// 64-row output blocks; the scalar kernel is the weight-by-weight definition.
#[test]
fn int4_kernels_match_scalar_exactly() {
    let mut rng = Rng::new(5);
    for cols in [
        1, 5, 16, 17, 31, 32, 33, 63, 64, 65, 96, 100, 128, 150, 160, 255, 600, 1000,
    ] {
        for rows in [1, 2, 3, 15, 16, 17, 31, 32, 33, 64, 65, 97, 130] {
            let data = random_i4(&mut rng, rows, cols);
            let scales: Vec<u8> = (0..rows).flat_map(|_| 1.0f32.to_le_bytes()).collect();
            let raw = RawTensor {
                dtype: DType::I4GroupScaled.code(),
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
            // The scalar kernel against the definition, and that against the dequantized weights: with scale 1,
            // w = q · m exactly.
            for (r, w) in want.iter().enumerate() {
                let dot: i32 = (0..cols)
                    .map(|c| t.get_f32(r, c) as i32 * i32::from(q.values()[c]))
                    .sum();
                assert_eq!(
                    (*w, dot_row_i4(&t, r, &q)),
                    (dot, dot),
                    "row {r} cols={cols}"
                );
            }
            for k in simd_kernels() {
                assert_eq!(sums(k, &t, &q), want, "{k:?} rows={rows} cols={cols}");
            }
        }
    }
}

#[test]
fn int4_nibbles_are_checked() {
    let scales: Vec<u8> = (0..20).flat_map(|_| 1.0f32.to_le_bytes()).collect();
    let tensor = |data: &[u8]| {
        let raw = RawTensor {
            dtype: DType::I4GroupScaled.code(),
            rows: 20,
            cols: 20,
            data,
            scales: &scales,
        };
        Tensor::new(&raw, 20, 20, crate::TensorName::Dense).map(|_| ())
    };
    // 20 rows × 20 columns: one block of 32 rows, one group of 32 columns: 32 multipliers, 512 nibble bytes.
    let s = crate::int4::Int4Shape::new(20, 20);
    let mut data = vec![0x88u8; 32 + 512];
    data[..32].fill(0);
    data[s.mult_at(19, 0)] = 63;
    s.set_q(&mut data, 19, 3, 7);
    assert_eq!(tensor(&data), Ok(()));
    let (at, shift) = s.nibble_at(18, 19);
    data[at] &= !(0x0F << shift); // (18, 19) = -8
    assert_eq!(
        tensor(&data),
        Err(crate::Error::WeightOutOfRange {
            tensor: crate::TensorName::Dense,
            index: 18 * 20 + 19
        })
    );
    s.set_q(&mut data, 18, 19, 0);
    s.set_q(&mut data, 2, 21, 1); // column 21 (past cols = 20) must be q = 0
    assert_eq!(tensor(&data), Err(crate::Error::Malformed));
    s.set_q(&mut data, 2, 21, 0);
    s.set_q(&mut data, 25, 0, 1); // row 25 (past rows = 20) must be q = 0
    assert_eq!(tensor(&data), Err(crate::Error::Malformed));
    s.set_q(&mut data, 25, 0, 0);
    data[s.mult_at(25, 0)] = 1; // and its multiplier 0
    assert_eq!(tensor(&data), Err(crate::Error::Malformed));
    data[s.mult_at(25, 0)] = 0;
    data[s.mult_at(0, 0)] = 64; // multipliers stop at 63
    assert_eq!(tensor(&data), Err(crate::Error::Malformed));
    data[s.mult_at(0, 0)] = 0;
    assert_eq!(tensor(&data), Ok(()));
    assert!(matches!(
        tensor(&data[..500]),
        Err(crate::Error::ShapeMismatch { .. })
    ));
}

#[test]
fn the_retired_int4_code_asks_for_a_new_export() {
    let raw = RawTensor {
        dtype: crate::format::RETIRED_INT4_CODE,
        rows: 1,
        cols: 1,
        data: &[0, 0x88],
        scales: &[0; 4],
    };
    let err = Tensor::new(&raw, 1, 1, crate::TensorName::Dense).unwrap_err();
    assert_eq!(
        err,
        crate::Error::UnsupportedDType {
            tensor: crate::TensorName::Dense,
            found: 2
        }
    );
    assert!(err.to_string().contains("quill export"), "{err}");
}
