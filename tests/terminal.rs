//! What a user sees on a terminal: the real binary on a pseudo-terminal of a given size, its
//! output replayed through a small terminal emulator (`util::screen`), asserted line by line.

use crate::util::screen::render;
use crate::util::*;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn chime() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/chime.wav"))
}

/// Runs `cmd` to its end on a terminal `columns` wide; its exit code and everything printed.
async fn on_terminal(cmd: Command, columns: u16) -> (Option<i32>, String) {
    let (child, _keys, printed) = on_a_sized_terminal(cmd, Some((columns, 24)));
    let out = tokio::time::timeout(Duration::from_secs(30), wait_child(child)).await.expect("hiktalk ends");
    (out.status.code(), printed.join().unwrap())
}

/// `play FILE sim` at 60 and 120 columns: the bar is cleared without a trace, never wraps, and
/// every note is whole on lines of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_on_a_terminal_leaves_only_whole_lines_at_60_and_120_columns() {
    for columns in [60usize, 120] {
        let mut cmd = hiktalk();
        cmd.arg("play").arg(chime()).arg("sim");
        let (code, printed) = on_terminal(cmd, columns as u16).await;
        assert_eq!(code, Some(0), "{printed}");
        // The bar was drawn, and each drawing of it fits on the line.
        let bars: Vec<&str> = printed.split(['\r', '\n']).filter(|s| s.contains("KiB sent")).collect();
        assert!(!bars.is_empty(), "no progress bar at {columns} columns: {printed:?}");
        for bar in &bars {
            let shown = render(bar, 1000).lines().concat();
            assert!(shown.chars().count() <= columns, "{columns} columns, a bar of {}: {shown:?}", shown.chars().count());
        }
        let screen = render(&printed, columns);
        let lines = screen.lines();
        let expected = [
            "hiktalk: started the simulated camera on http://127.0.0.1:",
            "hiktalk: sim: channel 1 speaks G.711ulaw at 8000 Hz; playing ",
            "hiktalk: simulated camera: ",
            "hiktalk: sim: played 2.",
        ];
        assert_eq!(lines.len(), expected.len(), "{columns} columns: {lines:#?}");
        for (line, start) in lines.iter().zip(expected) {
            assert!(line.starts_with(start), "{columns} columns: {line:?} should start with {start:?}; all: {lines:#?}");
        }
        assert_eq!(lines[1], "hiktalk: sim: channel 1 speaks G.711ulaw at 8000 Hz; playing WAV, 16000 Hz, 1 ch, 16-bit", "whole");
        println!("{columns} columns: {} bar drawings, each at most {columns} wide; the screen after:\n{}", bars.len(), lines.join("\n"));
    }
}

/// Ctrl-C while the device takes its time to confirm the close: the bar says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_ctrl_c_the_bar_says_it_is_closing() {
    let faults = vec!["slow=close:2000".parse().unwrap()];
    let sim = sim::start(SimConfig { faults, ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 440.0, 10.0, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(url(&sim));
    let (child, _keys, printed) = on_a_sized_terminal(cmd, Some((80, 24)));
    wait_for_signal_handlers(&child).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&child, libc::SIGINT);
    let out = tokio::time::timeout(Duration::from_secs(15), wait_child(child)).await.expect("hiktalk ends");
    let printed = printed.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{printed}");
    assert!(printed.contains("closing (Ctrl-C again to quit)"), "{printed:?}");
    assert!(render(&printed, 80).lines().iter().all(|l| !l.contains("Ctrl-C again")), "cleared at the end");
}

/// An empty answer at the password prompt is refused before anything is sent; Ctrl-C there
/// exits 130 and leaves the terminal as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_prompt_refuses_empty_and_stops_on_ctrl_c() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    for (typed, code, says) in [(&b"\r"[..], 2, "is empty: nothing was sent"), (&b"\x03"[..], 130, "stopped")] {
        let mut cmd = hiktalk();
        cmd.env_remove("HIKTALK_PASSWORD").args(["status"]).arg(url(&sim));
        let (child, mut keys, printed) = on_a_sized_terminal(cmd, Some((80, 24)));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // The prompt is up once the terminal is in raw mode (no echo).
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if raw_mode(&keys) || std::time::Instant::now() > deadline {
                break;
            }
        }
        keys.write_all(typed).unwrap();
        let out = tokio::time::timeout(Duration::from_secs(10), wait_child(child)).await.expect("hiktalk ends");
        let printed = printed.join().unwrap();
        assert_eq!(out.status.code(), Some(code), "{printed}");
        assert!(printed.contains("Password for admin@") && printed.contains(says), "{printed}");
        assert!(!raw_mode(&keys), "the terminal is left in raw mode");
    }
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::Request { .. })), 0, "nothing reached the device");
}

/// Whether the terminal behind `master` is in raw mode (no canonical input).
fn raw_mode(master: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: tcgetattr fills a zeroed termios we own (all-zero is a valid termios), on an fd
    // we own.
    let t = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(master.as_raw_fd(), &mut t);
        t
    };
    t.c_lflag & libc::ICANON == 0
}

/// ALSA's `null` capture device is always ready: it delivers thousands of seconds a second.
/// speak refuses it clearly instead of showing absurd figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_refuses_an_input_that_is_no_live_microphone() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["speak", "--no-listen", "--input", "alsa:null"]).arg(url(&sim));
    let (code, printed) = on_terminal(cmd, 60).await;
    assert_eq!(code, Some(3), "{printed}");
    assert!(printed.contains("faster than real time") && printed.contains("not a live microphone"), "{printed}");
    let lines = render(&printed, 60).lines();
    assert!(lines.iter().all(|l| l.starts_with("hiktalk: ")), "only whole messages, no meter fragment: {lines:#?}");
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
}

/// On a terminal, a wait is said: `wait-ring` names the doorbell it waits on, and `play -` with
/// the terminal as stdin says that it waits for audio there (a typed Ctrl-C then stops it,
/// exit 130, before any request). Off a terminal neither line is printed (#20 item 13).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_are_said_on_a_terminal_and_only_there() {
    let sim = sim::start(SimConfig { profile: hiktalk::sim::Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["wait-ring", "--timeout", "1"]).arg(url(&sim));
    let (code, printed) = on_terminal(cmd, 80).await;
    assert_eq!(code, Some(12), "{printed}");
    assert!(render(&printed, 80).lines().iter().any(|l| l.ends_with("waiting for a ring (at most 1 s); Ctrl-C to stop")), "{printed}");
    let mut cmd = hiktalk();
    cmd.args(["wait-ring", "--timeout", "0.2"]).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(12));
    assert!(!stderr(&out).contains("waiting for a ring"), "a pipe: {}", stderr(&out));

    let camera = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["play", "-"]).arg(url(&camera));
    let (child, mut keys, printed) = on_a_watched_terminal(cmd, Some((80, 24)));
    printed.wait_for("waiting for audio on standard input, which is this terminal").await;
    keys.write_all(b"\x03").unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), wait_child(child)).await.expect("hiktalk ends");
    let printed = printed.join();
    assert_eq!(out.status.code(), Some(130), "{printed}");
    assert_eq!(count(&camera.events(), |e| matches!(e, EventKind::Request { .. })), 0, "nothing reached the device");
    let mut cmd = hiktalk();
    cmd.args(["play", "-"]).arg(url(&camera)).stdin(std::fs::File::open(chime()).unwrap());
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("waiting for audio"), "{}", stderr(&out));
}

/// Ctrl-C typed at 80 and 50 columns: the terminal echoes `^C` after the bar, and the bar is
/// still cleared without a trace. A bar as wide as the terminal put the cursor at the margin,
/// the echo wrapped to a new row, and the clear erased that row instead (#20 item 11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_ctrl_c_leaves_no_bar_at_80_and_50_columns() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 440.0, 20.0, 8000, 1, 0.3);
    for columns in [80u16, 50] {
        let mut cmd = hiktalk();
        cmd.arg("play").arg(&wav).arg(url(&sim));
        let (child, mut keys, printed) = on_a_watched_terminal(cmd, Some((columns, 24)));
        printed.wait_for(" / 20.0 s, ").await;
        keys.write_all(b"\x03").unwrap();
        let out = tokio::time::timeout(Duration::from_secs(15), wait_child(child)).await.expect("hiktalk ends");
        let printed = printed.join();
        assert_eq!(out.status.code(), Some(130), "{printed}");
        assert!(printed.contains("^C"), "the terminal echoed the key: {printed:?}");
        let lines = render(&printed, usize::from(columns)).lines();
        assert!(lines.iter().all(|l| l.starts_with("hiktalk: ")), "{columns} columns: only whole messages: {lines:#?}");
        assert!(lines.last().unwrap().contains("stopped"), "{columns} columns: {lines:#?}");
    }
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
}

/// The bar of a page to three devices at 80 columns: its figures, `, N of 3 sending` included,
/// are whole in every drawing (the bar shrinks first) and fit the line (#20 item 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_multi_device_bar_keeps_its_figures_whole_at_80_columns() {
    let mut sims = Vec::new();
    for _ in 0..3 {
        sims.push(sim::start(binary_sim_config()).await.unwrap());
    }
    let mut cmd = hiktalk();
    cmd.arg("play").arg(chime());
    for s in &sims {
        cmd.arg(url(s));
    }
    let (code, printed) = on_terminal(cmd, 80).await;
    assert_eq!(code, Some(0), "{printed}");
    let bars: Vec<String> =
        printed.split(['\r', '\n']).filter(|s| s.contains("KiB sent")).map(|b| render(b, 1000).lines().concat()).collect();
    assert!(!bars.is_empty(), "no bar: {printed:?}");
    for bar in &bars {
        assert!(bar.starts_with("3 devices [") && bar.ends_with(" of 3 sending"), "cut: {bar:?}");
        assert!(bar.chars().count() <= 78, "{bar:?}");
    }
    assert!(render(&printed, 80).lines().iter().all(|l| l.starts_with("hiktalk: ")), "{printed:?}");
}

/// `status` and `devices` on a 50-column terminal: nothing wraps (each channel and each audio
/// device becomes a block of lines that fit); on a pipe the full table as before (#20 item 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_devices_fit_50_columns() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.arg("status").arg(url(&sim));
    let (code, printed) = on_terminal(cmd, 50).await;
    assert_eq!(code, Some(0), "{printed}");
    let screen = render(&printed, 50);
    assert_eq!(screen.wraps, 0, "wrapped: {:#?}", screen.lines());
    let lines = screen.lines();
    for expected in ["channel 1", "  codec    G.711ulaw", "  session  none", "channel 1 can speak G.711ulaw, G.711alaw, G.726,"] {
        assert!(lines.iter().any(|l| l == expected), "no {expected:?} in {lines:#?}");
    }
    let mut cmd = hiktalk();
    cmd.arg("status").arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("\nCHANNEL  CODEC        RATE"), "a pipe gets the table");

    let mut cmd = hiktalk();
    cmd.arg("devices");
    let (code, printed) = on_terminal(cmd, 50).await;
    assert_eq!(code, Some(0), "{printed}");
    let screen = render(&printed, 50);
    assert_eq!(screen.wraps, 0, "wrapped: {:#?}", screen.lines());
    assert!(screen.lines().iter().any(|l| l.starts_with("Inputs (speak --input)")), "{:#?}", screen.lines());
}
