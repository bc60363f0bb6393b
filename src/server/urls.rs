//! The URLs a server can be reached at: for a wildcard host, loopback and every LAN address.

use std::net::{IpAddr, SocketAddr};

/// `http://…:port` for `bound`; a wildcard address (`0.0.0.0`, `::`) is expanded to loopback
/// and each address of the machine's network interfaces.
pub fn reachable_urls(bound: SocketAddr) -> Vec<String> {
    let port = bound.port();
    if !bound.ip().is_unspecified() {
        return vec![url(bound.ip(), port)];
    }
    let want_v6 = bound.is_ipv6();
    let mut ips: Vec<IpAddr> = vec![if want_v6 {
        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
    } else {
        IpAddr::from([127u8, 0, 0, 1])
    }];
    if let Ok(interfaces) = if_addrs::get_if_addrs() {
        ips.extend(
            interfaces
                .iter()
                .map(|i| i.ip())
                .filter(|ip| !ip.is_loopback() && (want_v6 || ip.is_ipv4())),
        );
    }
    ips.dedup();
    ips.into_iter().map(|ip| url(ip, port)).collect()
}

fn url(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}:{port}"),
        IpAddr::V6(v6) => format!("http://[{v6}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_address_is_its_own_url() {
        let urls = reachable_urls("127.0.0.1:5000".parse().unwrap());
        assert_eq!(urls, ["http://127.0.0.1:5000"]);
    }

    #[test]
    fn a_wildcard_lists_loopback_first_then_ipv4_lan_addresses() {
        let urls = reachable_urls("0.0.0.0:5000".parse().unwrap());
        assert_eq!(urls[0], "http://127.0.0.1:5000");
        assert!(
            urls.iter()
                .all(|u| u.ends_with(":5000") && !u.contains('['))
        );
    }
}
