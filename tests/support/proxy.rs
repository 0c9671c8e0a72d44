//! Proxy servers from Debian (targets/ci.d/proxy.apt), each started on a
//! free loopback port with a configuration in a temporary directory and
//! stopped on drop: danted (SOCKS5 without authentication), microsocks
//! (SOCKS5 with a user name and password) and tinyproxy (HTTP `CONNECT`
//! with `BasicAuth`). They are the host's own programs, so they run
//! natively under QEMU user-mode too.

use std::process::{Command, Stdio};

use super::tls::{Process, TempDir};

/// The credentials the authenticating proxies are started with.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret-Pa55";

/// A proxy process listening on 127.0.0.1:`port`.
pub struct ProxyServer {
    pub port: u16,
    _process: Process,
    _dir: TempDir,
}

impl ProxyServer {
    /// `scheme://[USER:PASSWORD@]127.0.0.1:PORT`.
    pub fn url(&self, scheme: &str, auth: Option<(&str, &str)>) -> String {
        let auth = auth.map_or(String::new(), |(u, p)| format!("{u}:{p}@"));
        format!("{scheme}://{auth}127.0.0.1:{}", self.port)
    }
}

fn quiet(mut cmd: Command) -> Command {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// danted, SOCKS5 without authentication, one process, for clients on
/// loopback to anywhere. (Its rules need newlines inside the braces.)
pub fn danted() -> ProxyServer {
    let dir = TempDir::new("danted");
    let conf = dir.file("danted.conf");
    let pid = dir.file("danted.pid");
    let log = dir.file("danted.log");
    let (process, port) = Process::start_on_free_port("danted", |port| {
        let privileged = if is_root() {
            "user.privileged: root\nuser.unprivileged: nobody\n"
        } else {
            ""
        };
        std::fs::write(
            &conf,
            format!(
                "logoutput: {log}\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 socksmethod: none\nclientmethod: none\n{privileged}\
                 client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}}\n\
                 socks pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}}\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("/usr/sbin/danted");
        cmd.args(["-f", &conf, "-p", &pid, "-N", "1"]);
        quiet(cmd)
    });
    ProxyServer {
        port,
        _process: process,
        _dir: dir,
    }
}

/// microsocks, SOCKS5 that wants [`USER`] and [`PASSWORD`].
pub fn microsocks() -> ProxyServer {
    let dir = TempDir::new("microsocks");
    let (process, port) = Process::start_on_free_port("microsocks", |port| {
        let mut cmd = Command::new("microsocks");
        cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-u", USER, "-P", PASSWORD]);
        quiet(cmd)
    });
    ProxyServer {
        port,
        _process: process,
        _dir: dir,
    }
}

/// tinyproxy in the foreground, `CONNECT` to any port, `BasicAuth` with
/// [`USER`] and [`PASSWORD`].
pub fn tinyproxy() -> ProxyServer {
    let dir = TempDir::new("tinyproxy");
    let conf = dir.file("tinyproxy.conf");
    let pid = dir.file("tinyproxy.pid");
    let log = dir.file("tinyproxy.log");
    let (process, port) = Process::start_on_free_port("tinyproxy", |port| {
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 16\n\
                 BasicAuth {USER} {PASSWORD}\nPidFile \"{pid}\"\nLogFile \"{log}\"\n\
                 LogLevel Warning\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("tinyproxy");
        cmd.args(["-d", "-c", &conf]);
        quiet(cmd)
    });
    ProxyServer {
        port,
        _process: process,
        _dir: dir,
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}
