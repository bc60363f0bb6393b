//! The listening socket: set up so every accepted connection inherits `TCP_NODELAY` (answers
//! leave at once) and read/write timeouts (a client that stalls mid-request, or idles on a
//! keep-alive connection, is dropped instead of holding a thread forever).

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// How long a bind is retried while the port is still held (a server just stopped frees its
/// port a moment later).
const BIND_RETRY: Duration = Duration::from_secs(1);

/// Binds `host:port` with the connection options, retrying briefly while the port is in use.
pub fn bind(host: &str, port: u16, io_timeout: Duration) -> io::Result<TcpListener> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let deadline = Instant::now() + BIND_RETRY;
    loop {
        let mut last = io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{host} resolves to no address"),
        );
        for addr in &addrs {
            match bind_one(*addr, io_timeout) {
                Ok(listener) => return Ok(listener),
                Err(e) => last = e,
            }
        }
        if last.kind() != io::ErrorKind::AddrInUse || Instant::now() >= deadline {
            return Err(last);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn bind_one(addr: SocketAddr, io_timeout: Duration) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Linux and the BSDs copy these to accepted sockets.
    socket.set_tcp_nodelay(true)?;
    socket.set_read_timeout(Some(io_timeout))?;
    socket.set_write_timeout(Some(io_timeout))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpStream;

    #[test]
    fn accepted_connections_inherit_the_timeouts() {
        let listener = bind("127.0.0.1", 0, Duration::from_millis(50)).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
        let started = Instant::now();
        let err = accepted.read(&mut [0u8; 8]).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_port_in_use_is_an_error_after_retrying() {
        let first = bind("127.0.0.1", 0, Duration::from_secs(1)).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind("127.0.0.1", port, Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
