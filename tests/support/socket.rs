//! Sockets the tests hold themselves.

/// A TCP port of 127.0.0.1 that the kernel chose and this process holds
/// for as long as the descriptor lives, with a listen queue of 0 when
/// `listen`. Not listened on, it refuses every connection (RST).
pub fn bound_port(listen: bool) -> (u16, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // sockaddr is a zeroed sockaddr_in filled in below.
    unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = std::os::fd::OwnedFd::from_raw_fd(raw);
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let sp = &mut sa as *mut libc::sockaddr_in as *mut libc::sockaddr;
        assert_eq!(libc::bind(raw, sp, len), 0, "bind");
        if listen {
            assert_eq!(libc::listen(raw, 0), 0, "listen");
        }
        let mut got = len;
        assert_eq!(libc::getsockname(raw, sp, &mut got), 0, "getsockname");
        (u16::from_be(sa.sin_port), fd)
    }
}
