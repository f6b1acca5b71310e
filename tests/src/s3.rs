//! [`MotoS3`]: a real S3-compatible server (`moto_server`, from PyPI's
//! `moto[server]`) on a random loopback port, killed on drop; it can be
//! stopped and started again on the same port to make an outage.

use anyhow::{Context, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MotoS3 {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
}

impl MotoS3 {
    /// Starts `moto_server`; fails saying how to install it when missing.
    pub fn start() -> anyhow::Result<MotoS3> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut s = MotoS3 {
            child: None,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        s.start_again()?;
        Ok(s)
    }

    /// Starts the server (again) on its port. Its buckets are kept in
    /// memory, so a restart loses them: outages use [`MotoS3::pause`].
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        // The script pip installs, else the module (a script directory
        // not on PATH).
        let port = self.port.to_string();
        let args = ["-H", "127.0.0.1", "-p", port.as_str()];
        let spawn = |program: &str, pre: &[&str]| {
            Command::new(program)
                .args(pre)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn("moto_server", &[])
            .or_else(|_| spawn("python3", &["-m", "moto.server"]))
            .context(
                "moto_server not found: install it with `python3 -m pip install 'moto[server]'` (scripts/test.sh does)",
            )?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                bail!(
                    "moto_server exited ({status}) before listening: install it with `python3 -m pip install 'moto[server]'` (scripts/test.sh does)"
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "moto_server did not listen on port {} within 60 s",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops answering (SIGSTOP): connections hang as on a dead network,
    /// and the data survives for [`MotoS3::resume`].
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Answers again (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our own child, which `child` keeps from
            // being reaped (so its pid is not reused) while we hold it.
            unsafe {
                libc::kill(c.id() as libc::pid_t, sig);
            }
        }
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) -> anyhow::Result<()> {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.url))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("creating bucket {name}: {}", r.status());
        }
        Ok(())
    }

    /// The environment a client needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT", self.url.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

impl Drop for MotoS3 {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
