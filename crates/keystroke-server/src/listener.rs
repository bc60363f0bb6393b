//! The listening socket. It carries no read or write timeout: accepted sockets inherit those
//! on Linux, but on the listening socket itself a read timeout makes `accept()` time out, and
//! a quiet minute then looks like an error. Each connection gets its own deadlines instead
//! (the patched tiny_http's `Limits`).

use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// How long a bind is retried while the port is still held (a server just stopped frees its
/// port a moment later).
const BIND_RETRY: Duration = Duration::from_secs(1);

/// Connections the kernel holds for `accept()`.
const BACKLOG: i32 = 1024;

/// Binds `host:port`, retrying briefly while the port is in use.
pub fn bind(host: &str, port: u16) -> io::Result<TcpListener> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let deadline = Instant::now() + BIND_RETRY;
    loop {
        let mut last = io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{host} resolves to no address"),
        );
        for addr in &addrs {
            match bind_one(*addr) {
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

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn accept_waits_for_a_late_client_without_timing_out() {
        let listener = bind("127.0.0.1", 0).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepting = thread::spawn(move || listener.accept().map(|_| ()));
        thread::sleep(Duration::from_millis(300));
        let _client = TcpStream::connect(addr).unwrap();
        accepting
            .join()
            .unwrap()
            .expect("accept() must not time out");
    }

    #[test]
    fn a_port_in_use_is_an_error_after_retrying() {
        let first = bind("127.0.0.1", 0).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind("127.0.0.1", port).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
