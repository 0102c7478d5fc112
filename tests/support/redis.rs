//! A real `redis-server` on loopback for the shared-state tests, started and
//! stopped by the test (installed by scripts/setup-redis.sh; the tests that
//! use it are named `redis_`, so scripts/test.sh can skip them loudly when it
//! cannot be installed, outside CI only). [`RedisServer::start_tls`] serves
//! TLS only (`rediss://`), with a certificate for 127.0.0.1 from a throwaway CA
//! made by the test (rcgen).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A `redis-server` without persistence on 127.0.0.1; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    password: Option<String>,
    tls: Option<Tls>,
}

/// The TLS side of a server: its CA's certificate, and the directory holding
/// the files redis-server reads (removed on drop).
struct Tls {
    ca_pem: String,
    dir: PathBuf,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(tls) = &self.tls {
            let _ = std::fs::remove_dir_all(&tls.dir);
        }
    }
}

/// A fresh CA (PEM certificate) that nothing trusts but the test.
pub fn throwaway_ca() -> (String, CertifiedIssuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "tower-bearer test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    (ca.pem(), ca)
}

impl RedisServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts a server that requires `password` (user `default`).
    pub fn start_with(password: Option<&str>) -> Self {
        Self::start_on(password, None)
    }

    /// Starts a server that speaks TLS only, with a certificate for
    /// 127.0.0.1 signed by a new CA ([`RedisServer::ca_pem`]); clients need
    /// no certificate of their own. With `password`, it requires it too.
    pub fn start_tls(password: Option<&str>) -> Self {
        let (ca_pem, ca) = throwaway_ca();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "tower-bearer test redis");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "tower-bearer-redis-tls-{}-{}",
            std::process::id(),
            super::quickstart::free_loopback_addr().port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.crt"), &ca_pem).unwrap();
        std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
        Self::start_on(password, Some(Tls { ca_pem, dir }))
    }

    fn start_on(password: Option<&str>, tls: Option<Tls>) -> Self {
        let port = super::quickstart::free_loopback_addr().port();
        let mut server = RedisServer {
            child: None,
            port,
            password: password.map(str::to_owned),
            tls,
        };
        server.restart();
        server
    }

    /// `redis://…` for this server (`rediss://…` for TLS), with the password
    /// when it has one.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        match &self.password {
            Some(password) => format!("{scheme}://default:{password}@127.0.0.1:{}/0", self.port),
            None => format!("{scheme}://127.0.0.1:{}/0", self.port),
        }
    }

    /// The PEM certificate of the CA that signed a TLS server's certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.ca_pem.as_str())
    }

    /// Kills the server (an outage); `restart` brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on its port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let mut args = match &self.tls {
            None => vec!["--port".to_owned(), port],
            Some(tls) => {
                let file = |name: &str| tls.dir.join(name).display().to_string();
                vec![
                    // No plain TCP at all: TLS on the server's port.
                    "--port".to_owned(),
                    "0".to_owned(),
                    "--tls-port".to_owned(),
                    port,
                    "--tls-cert-file".to_owned(),
                    file("server.crt"),
                    "--tls-key-file".to_owned(),
                    file("server.key"),
                    "--tls-ca-cert-file".to_owned(),
                    file("ca.crt"),
                    "--tls-auth-clients".to_owned(),
                    "no".to_owned(),
                ]
            }
        };
        args.extend([
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--save".to_owned(),
            String::new(),
            "--appendonly".to_owned(),
            "no".to_owned(),
        ]);
        if let Some(password) = &self.password {
            args.extend(["--requirepass".to_owned(), password.clone()]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server runs (installed by scripts/setup-redis.sh)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
