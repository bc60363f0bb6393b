//! The features matrix as a NumPy `.npy` file (v1.0, `<f8`, C order, shape [samples, features]).

use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use ndarray_npy::{ViewNpyExt, WriteNpyExt};

/// Largest features file read, in bytes.
pub const MAX_NPY_BYTES: u64 = 256 << 20;

/// Writes `features` in `.npy` format.
pub fn write(writer: &mut BufWriter<File>, features: ArrayView2<f64>) -> io::Result<()> {
    features.write_npy(writer).map_err(io::Error::other)
}

/// Reads a features file. The header's shape must match the data exactly (checked without
/// allocating what the header claims), and every value must be finite.
pub fn read(path: &Path) -> Result<Array2<f64>, String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size > MAX_NPY_BYTES {
        return Err(format!(
            "{size} bytes is over the {MAX_NPY_BYTES}-byte limit"
        ));
    }
    // An 8-byte-aligned buffer, so the f64 data can be viewed in place.
    let mut words = vec![0_u64; (size as usize).div_ceil(8)];
    let bytes: &mut [u8] = bytemuck_bytes(&mut words);
    let bytes = &mut bytes[..size as usize];
    file.read_exact(bytes).map_err(|e| e.to_string())?;
    let view = ArrayView2::<f64>::view_npy(bytes)
        .map_err(|e| format!("not a 2-D float64 .npy file: {e}"))?;
    if let Some(((row, column), value)) = view.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(format!(
            "row {row}, column {column} is not finite ({value})"
        ));
    }
    Ok(view.as_standard_layout().into_owned())
}

fn bytemuck_bytes(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 has no padding and any byte pattern is a valid u8; the slice covers exactly
    // the memory of `words` and borrows it mutably for its lifetime.
    unsafe {
        std::slice::from_raw_parts_mut(
            words.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(words),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn write_file(path: &Path, a: ArrayView2<f64>) {
        let mut w = BufWriter::new(File::create(path).unwrap());
        write(&mut w, a).unwrap();
    }

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        let a = array![[1.5, -2.0, 3.25], [4.0, 5.0, 6.0]];
        write_file(&path, a.view());
        assert_eq!(read(&path).unwrap(), a);
    }

    /// A hand-made `.npy` v1.0 file with the given shape text and data bytes.
    fn handmade(shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn reads_a_handmade_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        std::fs::write(&path, handmade("(1, 1)", &2.5_f64.to_le_bytes())).unwrap();
        assert_eq!(read(&path).unwrap(), array![[2.5]]);
    }

    #[test]
    fn rejects_a_header_that_claims_more_data_than_there_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        std::fs::write(&path, handmade("(4, 2)", &[0; 16])).unwrap();
        assert!(read(&path).is_err());
        // A terabyte claimed by a 64-byte file: refused without trying to allocate it.
        std::fs::write(&path, handmade("(100000000000, 2)", &[0; 16])).unwrap();
        assert!(read(&path).is_err());
        std::fs::write(&path, handmade("(1, 2, 3)", &[0; 48])).unwrap();
        assert!(read(&path).unwrap_err().contains("not a 2-D float64"));
    }

    #[test]
    fn rejects_truncated_and_garbage_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        write_file(&path, array![[1.0, 2.0], [3.0, 4.0]].view());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(read(&path).is_err());
        std::fs::write(&path, b"not numpy at all").unwrap();
        assert!(read(&path).is_err());
    }

    #[test]
    fn rejects_non_finite_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        write_file(&path, array![[1.0, f64::NAN]].view());
        assert_eq!(
            read(&path).unwrap_err(),
            "row 0, column 1 is not finite (NaN)"
        );
    }
}
