//! The README's curl tour, extracted from README.md and run as written against the binary.
//!
//! A command a user is told to type must be run by a test: this reads every `sh` block of
//! the README's "A short tour with curl" section, runs them in one bash script (the order
//! the README gives), and checks what each request answered. `curl` is wrapped by a shell
//! function that reports each answer's status on stderr, so the tour's own text is unchanged.
//!
//! By default it starts the debug binary on a free port and points `localhost:3000` there.
//! With `BETFLOW_TEST_README_SERVER=localhost:3000` (and the admin's printed password in
//! `BETFLOW_TEST_README_PASSWORD`) it runs against a server already started by hand, as
//! `.ci/run` does after starting the README's own `cargo run --release -- serve`.

use super::*;

const TOUR_HEADING: &str = "## A short tour with curl";
const ADMIN_PW: &str = "readme-tour-admin-password";

/// The `sh` blocks of the tour section, in order.
fn tour_blocks(readme: &str) -> Vec<String> {
    let start = readme
        .find(TOUR_HEADING)
        .expect("the README has a curl tour");
    let rest = &readme[start + TOUR_HEADING.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```sh" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            blocks.push(block.join("\n"));
        }
    }
    blocks
}

/// One answer, as the curl wrapper reported it.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    method: String,
    path: String,
}

fn answers(stderr: &str) -> Vec<Answer> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("TOUR-HTTP "))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let status = parts.next().unwrap().parse().unwrap_or(0);
            let method = parts.next().unwrap_or_default().to_owned();
            let url = parts.next().unwrap_or_default();
            // http://host:port/path?query -> /path
            let path = url
                .split_once("://")
                .map(|(_, r)| r)
                .unwrap_or(url)
                .split_once('/')
                .map(|(_, p)| format!("/{}", p.split('?').next().unwrap_or_default()))
                .unwrap_or_default();
            Answer {
                status,
                method,
                path,
            }
        })
        .collect()
}

async fn run_tour(host: &str, password: &str) -> (String, Vec<Answer>) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let blocks = tour_blocks(&readme);
    assert!(blocks.len() >= 5, "the tour has its blocks: {blocks:?}");
    // `curl` is a script on PATH rather than a shell function, so a tour command sent to the
    // background (`curl … &`, then `kill %1`) is one process that `kill` really stops.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let real_curl = which_curl();
    let wrapper = bin.join("curl");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {real_curl} --write-out '%{{stderr}}TOUR-HTTP %{{http_code}} \
             %{{method}} %{{url_effective}}\\n' \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut script = String::from("set -eu\n");
    for block in &blocks {
        script.push_str(&block.replace("localhost:3000", host));
        script.push('\n');
    }
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PW", password)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("bash runs");
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait()).await;
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let status = match status {
        Ok(status) => status.unwrap(),
        Err(_) => panic!(
            "the tour did not finish within 120 s:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
    };
    assert!(
        status.success(),
        "the tour failed ({status}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    (stdout, answers(&stderr))
}

fn which_curl() -> String {
    ["/usr/bin/curl", "/bin/curl", "/usr/local/bin/curl"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("curl is installed")
        .to_owned()
}

/// What the tour must show: every request answered as its comment says, nothing else failed.
fn check_tour(stdout: &str, answers: &[Answer]) {
    let failed: Vec<&Answer> = answers.iter().filter(|a| a.status >= 300).collect();
    let expected = [
        (404, "GET", "/api/v1/nope"),
        (405, "DELETE", "/health"),
        (401, "GET", "/api/v1/users"),
    ];
    let failed_keys: Vec<(u16, &str, &str)> = failed
        .iter()
        .map(|a| (a.status, a.method.as_str(), a.path.as_str()))
        .collect();
    assert_eq!(
        failed_keys, expected,
        "only the tour's deliberate errors fail:\n{stdout}"
    );
    assert!(
        answers.len() > 40,
        "the tour made its requests: {answers:?}"
    );
    for needle in [
        r#""status":"healthy""#,
        r#""code":"NOT_FOUND""#,
        r#""status":"in_progress""#,
        r#""status":"completed""#,
        r#""displayOdds":"17/20""#,
        r#""status":"settled_win""#,
        r#""actualWin":1850"#,
        r#""balanced":true"#,
        r#""secret":"whsec_"#,
    ] {
        assert!(
            stdout.contains(needle),
            "the tour shows {needle}:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn the_readme_tour_runs_as_written() {
    if let Ok(host) = std::env::var("BETFLOW_TEST_README_SERVER") {
        let password =
            std::env::var("BETFLOW_TEST_README_PASSWORD").expect("the admin's printed password");
        let (stdout, answers) = run_tour(&host, &password).await;
        check_tour(&stdout, &answers);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = sqlite_args(dir.path(), &[]);
    let mut server = Server::start(&args, &[("BETFLOW_ADMIN_PASSWORD", ADMIN_PW)]).await;
    let host = server
        .base
        .trim_start_matches("http://")
        .replace("127.0.0.1", "localhost");
    let (stdout, answers) = run_tour(&host, ADMIN_PW).await;
    check_tour(&stdout, &answers);
    server.sigterm();
    assert!(server.wait(Duration::from_secs(30)).await.success());
}

#[test]
fn the_tour_is_found_in_its_section() {
    let readme = "# x\n## A short tour with curl\n\n```sh\na\nb\n```\ntext\n```sh\nc\n```\n## Next\n```sh\nd\n```\n";
    assert_eq!(tour_blocks(readme), ["a\nb", "c"]);
    let a = answers("noise\nTOUR-HTTP 201 POST http://localhost:1/api/v1/x?y=1\n");
    assert_eq!(
        a,
        [Answer {
            status: 201,
            method: "POST".into(),
            path: "/api/v1/x".into()
        }]
    );
}
