use super::*;
use crate::format::RawTensor;
use crate::rng::Rng;

fn random_i8(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| ((rng.next_u32() % 255) as i32 - 127) as i8 as u8)
        .collect()
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
            let mut want = vec![0; rows];
            matvec_i8(Kernel::Scalar, &t, &q, |f, v| {
                want[f..f + v.len()].copy_from_slice(v)
            });
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
            for k in [
                Kernel::Avx2,
                Kernel::AvxVnni,
                Kernel::Avx512Vnni,
                Kernel::ArmDsp,
            ]
            .into_iter()
            .filter(|k| k.is_supported())
            {
                let mut got = vec![0; rows];
                matvec_i8(k, &t, &q, |f, v| got[f..f + v.len()].copy_from_slice(v));
                assert_eq!(got, want, "{k:?} rows={rows} cols={cols}");
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
