//! Reading the files a seller names (`gateway.toml`, bot files, plugins, fixtures, the pid file):
//! regular files only, and never more than a limit. A FIFO, a device, a directory, or a symlink
//! to one of them is refused without reading (the file is opened non-blocking, so not even the
//! open waits for a writer); a larger file is refused after at most the limit plus one byte. No
//! file can block `check`, `run` or `reload` for good or grow them past the limit.

use std::io::Read;
use std::path::Path;

/// A text file a seller writes (`gateway.toml`, a bot file, a fixture): far more than any needs.
pub const TEXT_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    #[error("is not a regular file (it is {0})")]
    NotAFile(&'static str),
    #[error("is larger than the limit of {}", size(*.0))]
    TooLarge(u64),
    #[error("is not UTF-8 text")]
    NotText,
}

impl ReadError {
    /// The file does not exist (some files are optional).
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The bytes of the regular file at `path`, if it holds at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading would wait for a writer; a terminal would become ours.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(kind(&meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

/// Like [`read`], for a text file.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?).map_err(|_| ReadError::NotText)
}

fn kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_a_directory_and_a_large_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read(Path::new("/dev/zero"), 10),
            Err(ReadError::NotAFile("a device"))
        ));
        assert!(matches!(
            read(dir.path(), 10),
            Err(ReadError::NotAFile("a directory"))
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert!(matches!(read(&big, 10), Err(ReadError::TooLarge(10))));
        assert_eq!(read(&big, 11).unwrap().len(), 11);
        assert!(
            read(&dir.path().join("nothing"), 10)
                .unwrap_err()
                .is_missing()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read(&fifo, 10),
            Err(ReadError::NotAFile("a FIFO"))
        ));
    }
}
