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

/// Reads a features file (see [`parse`]).
pub fn read(path: &Path) -> Result<Array2<f64>, String> {
    let mut file = File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size > MAX_NPY_BYTES {
        return Err(format!(
            "{size} bytes is over the {MAX_NPY_BYTES}-byte limit"
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    parse(&bytes)
}

/// Parses the bytes of a features file. The header's shape must match the data exactly
/// (checked without allocating what the header claims), and every value must be finite.
pub fn parse(bytes: &[u8]) -> Result<Array2<f64>, String> {
    if bytes.len() as u64 > MAX_NPY_BYTES {
        return Err(format!(
            "{} bytes is over the {MAX_NPY_BYTES}-byte limit",
            bytes.len()
        ));
    }
    check_header_length(bytes)?;
    // An 8-byte-aligned copy, so the f64 data can be viewed in place.
    let mut words = vec![0_u64; bytes.len().div_ceil(8)];
    let aligned = &mut bytemuck_bytes(&mut words)[..bytes.len()];
    aligned.copy_from_slice(bytes);
    let view = ArrayView2::<f64>::view_npy(aligned)
        .map_err(|e| format!("not a 2-D float64 .npy file: {e}"))?;
    if let Some(((row, column), value)) = view.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(format!(
            "row {row}, column {column} is not finite ({value})"
        ));
    }
    Ok(view.as_standard_layout().into_owned())
}

/// The header length a `.npy` file declares must fit in the file: ndarray-npy allocates it
/// before reading (a 4-byte length in versions 2 and 3 could ask for 4 GiB).
fn check_header_length(bytes: &[u8]) -> Result<(), String> {
    let (prefix, declared) = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => (10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        Some(2 | 3) if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        _ => return Ok(()), // ndarray-npy reports what is wrong with the preamble
    };
    if prefix + declared > bytes.len() {
        return Err(format!(
            "not a 2-D float64 .npy file: its header claims {declared} bytes, the file has {}",
            bytes.len()
        ));
    }
    Ok(())
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
    fn rejects_a_header_length_past_the_end_without_allocating_it() {
        // Found by `cargo fuzz run features_npy`: a version-3 preamble declaring a 3.6 GB header.
        let mut bytes = b"\x93NUMPY\x03\x00\x76\x00\x85\xd8".to_vec();
        bytes.extend([b' '; 60]);
        assert_eq!(
            parse(&bytes).unwrap_err(),
            "not a 2-D float64 .npy file: its header claims 3632595062 bytes, the file has 72"
        );
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
