//! TLS test material and real TLS servers, for tests/tls/: certificates
//! made by the openssl CLI in a temporary directory, `openssl s_server`
//! and nginx started on loopback ports and stopped on drop.
//!
//! Under QEMU user-mode the test binary is emulated, but `openssl` and
//! `nginx` are the host's own programs: the kernel runs them natively.
//! Both are installed by the setup step (targets/ci.d/tls.apt).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{eventually, SOON};

/// Runs a command to success, or panics with its stderr.
fn run(cmd: &mut Command) {
    let out = super::spawn::output(cmd).unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ttc-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside it, as a string (for command lines).
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Certificates for one test, all ECDSA P-256, made with the openssl CLI:
///
/// - `ca.pem`: the test CA (the one the client trusts);
/// - `server.pem`/`.key`: for `localhost`, `127.0.0.1` and `::1`, by the CA;
/// - `expired.pem`/`.key`: the same names, valid only in January 2020;
/// - `wrong.pem`/`.key`: for `wrong.example` only, by the CA;
/// - `untrusted.pem`/`.key`: the right names, by another CA (`other_ca.pem`);
/// - `client.pem`/`.key`: a client certificate (`ttc test client`), by the CA.
pub struct Pki {
    dir: TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new("pki");
        let pki = Pki { dir };
        pki.make_ca("ca", "ttc test CA");
        pki.make_ca("other_ca", "some other CA");
        let names = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1";
        let server = "extendedKeyUsage=serverAuth";
        pki.make_leaf(
            "server",
            "ca",
            "localhost",
            names,
            server,
            Validity::Days(30),
        );
        pki.make_leaf(
            "expired",
            "ca",
            "localhost",
            names,
            server,
            Validity::Between("200101000000Z", "200201000000Z"),
        );
        pki.make_leaf(
            "wrong",
            "ca",
            "wrong.example",
            "subjectAltName=DNS:wrong.example",
            server,
            Validity::Days(30),
        );
        pki.make_leaf(
            "untrusted",
            "other_ca",
            "localhost",
            names,
            server,
            Validity::Days(30),
        );
        pki.make_leaf(
            "client",
            "ca",
            "ttc test client",
            "subjectAltName=DNS:client.test",
            "extendedKeyUsage=clientAuth",
            Validity::Days(30),
        );
        pki
    }

    /// The path of one of its files (`"ca.pem"`, `"server.key"`, ...).
    pub fn path(&self, name: &str) -> String {
        self.dir.file(name)
    }

    fn keygen() -> [&'static str; 6] {
        [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-batch",
        ]
    }

    fn make_ca(&self, name: &str, cn: &str) {
        run(Command::new("openssl")
            .args(["req", "-x509"])
            .args(Self::keygen())
            .args(["-keyout", &self.path(&format!("{name}.key"))])
            .args(["-out", &self.path(&format!("{name}.pem"))])
            .args(["-days", "3650", "-subj", &format!("/CN={cn}")])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]));
        // `openssl ca`'s database, one per CA.
        let db = self.dir.path().join(format!("{name}-db"));
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(db.join("index.txt"), "").unwrap();
        std::fs::write(db.join("serial"), "1000\n").unwrap();
        let cnf = format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {db}/index.txt\nnew_certs_dir = {db}\n\
             serial = {db}/serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n\
             unique_subject = no\n[p]\ncommonName = supplied\n",
            db = db.display()
        );
        std::fs::write(db.join("ca.cnf"), cnf).unwrap();
    }

    fn make_leaf(&self, name: &str, ca: &str, cn: &str, san: &str, eku: &str, v: Validity) {
        let csr = self.path(&format!("{name}.csr"));
        run(Command::new("openssl")
            .arg("req")
            .args(Self::keygen())
            .args(["-keyout", &self.path(&format!("{name}.key"))])
            .args(["-out", &csr])
            .args(["-subj", &format!("/CN={cn}")])
            .args(["-addext", san, "-addext", eku])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"]));
        let cnf = self.dir.path().join(format!("{ca}-db/ca.cnf"));
        let mut cmd = Command::new("openssl");
        cmd.args(["ca", "-batch", "-notext", "-config"])
            .arg(&cnf)
            .args(["-in", &csr])
            .args(["-out", &self.path(&format!("{name}.pem"))])
            .args(["-cert", &self.path(&format!("{ca}.pem"))])
            .args(["-keyfile", &self.path(&format!("{ca}.key"))]);
        match v {
            Validity::Days(d) => cmd.args(["-days", &d.to_string()]),
            // openssl x509 -req cannot backdate; openssl ca can.
            Validity::Between(from, to) => cmd.args(["-startdate", from, "-enddate", to]),
        };
        run(&mut cmd);
    }

    /// The curl-style pin of a certificate's public key:
    /// `sha256//BASE64(SHA-256(SubjectPublicKeyInfo DER))`.
    pub fn pin(&self, cert: &str) -> String {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der \
                 | openssl dgst -sha256 -binary | base64",
            )
            .arg("sh")
            .arg(self.path(cert));
        let out = super::spawn::output(&mut cmd).unwrap();
        assert!(out.status.success());
        format!("sha256//{}", String::from_utf8(out.stdout).unwrap().trim())
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

enum Validity {
    Days(u32),
    Between(&'static str, &'static str),
}

/// A loopback port that was free a moment ago (for servers that cannot
/// be told to pick one and say which).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp,
/// without connecting: a probe connection would be a client to them).
pub fn listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local_address is field 1, st field 3; 0A is LISTEN.
            f.len() > 3 && f[1] == local && f[3] == "0A"
        })
}

/// A running server process, killed on drop.
pub struct Process {
    child: Child,
    name: &'static str,
}

impl Process {
    /// Starts the server `command(port)` makes on a free port and waits
    /// until it listens. A port taken between `free_port` and the server's
    /// bind (by another test) makes the server exit: then another port, at
    /// most three in all.
    pub fn start_on_free_port(
        name: &'static str,
        command: impl Fn(u16) -> Command,
    ) -> (Process, u16) {
        for _ in 0..3 {
            let port = free_port();
            let child = super::spawn::spawn(&mut command(port)).unwrap_or_else(|e| {
                panic!("cannot start {name}: {e} (targets/setup.sh installs it)")
            });
            let mut p = Process { child, name };
            let up = eventually(SOON, || listening(port) || p.exited());
            if up && !p.exited() {
                return (p, port);
            }
            assert!(p.exited(), "{name} did not start listening on {port}");
        }
        panic!("{name} exited before listening, on three ports");
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = self.name;
    }
}

/// `openssl s_server -quiet` on 127.0.0.1: what a client sends appears on
/// its stdout (collected here), what is written to its stdin goes to the
/// client. It serves one client at a time until dropped.
pub struct SServer {
    pub port: u16,
    stdin: Option<ChildStdin>,
    /// The thread writing to stdin; it hands stdin back (still open: an
    /// end of input would be no signal to s_server -quiet anyway).
    _writer: Option<std::thread::JoinHandle<ChildStdin>>,
    received: Arc<Mutex<Vec<u8>>>,
    _process: Process,
}

impl SServer {
    /// With the server certificate `cert` (`"server"`, `"expired"`, ...)
    /// and more s_server options (`-tls1_2`, `-Verify 1 -CAfile ...`).
    pub fn start(pki: &Pki, cert: &str, extra: &[&str]) -> SServer {
        let command = |port: u16| {
            let mut cmd = Command::new("openssl");
            cmd.args([
                "s_server",
                "-quiet",
                // With a blocking socket s_server can sit in a read for client
                // data that never comes while it has data to send.
                "-nbio",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["-cert", &pki.path(&format!("{cert}.pem"))])
            .args(["-key", &pki.path(&format!("{cert}.key"))])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
            cmd
        };
        let (mut process, port) = Process::start_on_free_port("openssl s_server", command);
        let stdin = process.child.stdin.take();
        let mut stdout = process.child.stdout.take().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        SServer {
            port,
            stdin,
            _writer: None,
            received,
            _process: process,
        }
    }

    /// Writes `data` to the server's stdin (to the client) on a thread.
    pub fn send(&mut self, data: Vec<u8>) {
        let mut stdin = self.stdin.take().expect("stdin still open");
        self._writer = Some(std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
            let _ = stdin.flush();
            stdin
        }));
    }

    /// Bytes the server has received from its client so far.
    pub fn received_len(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    pub fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) until the server has received `n` bytes.
    pub fn wait_received(&self, n: usize, limit: Duration) -> bool {
        eventually(limit, || self.received_len() >= n)
    }
}

/// nginx (Debian's nginx-light) serving `root` over TLS on a loopback
/// port, one process (`master_process off`), everything in a temporary
/// directory.
pub struct Nginx {
    pub port: u16,
    _process: Process,
    _dir: TempDir,
}

impl Nginx {
    pub fn start(pki: &Pki, root: &Path) -> Nginx {
        let dir = TempDir::new("nginx");
        let d = dir.path().display();
        let conf_path = dir.file("nginx.conf");
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists() || *p == "nginx")
            .unwrap();
        let command = |port: u16| {
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\nevents {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
                   proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
                   uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                   server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name localhost;\n\
                     ssl_protocols TLSv1.2 TLSv1.3;\n\
                     ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
                     root {root};\n  }}\n}}\n",
                cert = pki.path("server.pem"),
                key = pki.path("server.key"),
                root = root.display(),
            );
            std::fs::write(&conf_path, conf).unwrap();
            let mut cmd = Command::new(nginx);
            cmd.args([
                "-p",
                &dir.file(""),
                "-e",
                &dir.file("error.log"),
                "-c",
                &conf_path,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            cmd
        };
        let (process, port) = Process::start_on_free_port("nginx", command);
        Nginx {
            port,
            _process: process,
            _dir: dir,
        }
    }
}
