//! What a page costs: `hiktalk play` of one 44.1 kHz stereo WAV to 1 .. 1000 simulated devices
//! from one process. The devices run in `hiktalk sim --devices N` processes of at most
//! `HIKTALK_BENCH_PER_SIM` (250) devices each, beside hiktalk on the same cores. hiktalk's CPU
//! time, context switches and peak RSS come from the kernel (wait4's rusage of the play process
//! alone; the simulators' CPU from theirs); underruns, overflow and the spread of first-audio
//! times from the devices' own figures. Then a table of the cost per device, and a plot of it
//! (`HIKTALK_BENCH_PLOT`, default contrib/paging.png; `none` for no plot).
//!
//!     cargo bench --bench paging                              # 1, 50, 200 devices, 30 s
//!     HIKTALK_BENCH_DEVICES=1,10,100,250,500,1000 HIKTALK_BENCH_SECS=60 cargo bench --bench paging

#[allow(dead_code, reason = "each bench uses its part of the helpers")]
mod measure;

use measure::{Cost, Sims, devices_of, env_or, play_command, run_measured, tone_file};
use plotters::prelude::*;

/// One page, as the kernel and the devices saw it.
struct Page {
    devices: usize,
    sims: usize,
    cost: Cost,
    sims_cpu: f64,
    heard_secs: f64,
    underruns: u64,
    overflow_ms: f64,
    /// Devices that heard any gap or lost any audio.
    unhappy: usize,
    /// The largest first-audio spread among the simulator processes (each compares its own).
    spread_ms: Option<f64>,
}

impl Page {
    /// hiktalk's CPU per device, in ms per second of audio.
    fn cpu_per_device_ms_per_s(&self) -> f64 {
        self.cost.cpu.as_secs_f64() * 1000.0 / self.cost.wall.as_secs_f64() / self.devices as f64
    }
}

fn page(devices: usize, per_sim: usize, wav: &std::path::Path) -> Page {
    let sims: Vec<Sims> = (0..devices.div_ceil(per_sim)).map(|i| Sims::start(per_sim.min(devices - i * per_sim))).collect();
    let urls: Vec<String> = sims.iter().flat_map(|s| s.urls.iter().cloned()).collect();
    let (code, cost) = run_measured(&mut play_command(wav, &urls));
    let n = sims.len();
    let (mut sims_cpu, mut each, mut spread) = (0.0, Vec::new(), None::<f64>);
    for sim in sims {
        let (summary, sim_cost) = sim.stop();
        sims_cpu += sim_cost.cpu.as_secs_f64();
        if let Some(s) = summary["first_audio_spread_ms"].as_f64() {
            spread = Some(spread.map_or(s, |m| m.max(s)));
        }
        each.extend(devices_of(&summary));
    }
    assert_eq!(each.len(), devices, "every device reported");
    let sum = |key: &str| each.iter().map(|d| d[key].as_f64().unwrap_or(0.0)).sum::<f64>();
    let page = Page {
        devices,
        sims: n,
        cost,
        sims_cpu,
        heard_secs: sum("audio_seconds"),
        underruns: sum("underruns") as u64,
        overflow_ms: sum("overflow_ms"),
        unhappy: each.iter().filter(|d| d["underruns"].as_u64() != Some(0) || d["overflow_ms"].as_f64() != Some(0.0)).count(),
        spread_ms: spread,
    };
    println!(
        "{devices:>4} devices ({} sim process{}), exit {code}: hiktalk CPU {:.2} s = {:.2}% of a core ({:.3} ms/s per device), peak RSS {:.1} MB, {:.0} voluntary switches/s; simulators' CPU {:.2} s; devices: {:.1} s heard, {} underruns, {:.0} ms overflow ({} devices with either), first audio within {} ms",
        page.sims,
        if page.sims == 1 { "" } else { "es" },
        cost.cpu.as_secs_f64(),
        cost.core_percent(),
        page.cpu_per_device_ms_per_s(),
        cost.max_rss_mb,
        cost.voluntary_switches as f64 / cost.wall.as_secs_f64(),
        page.sims_cpu,
        page.heard_secs,
        page.underruns,
        page.overflow_ms,
        page.unhappy,
        page.spread_ms.map_or("-".into(), |s| format!("{s:.1}")),
    );
    page
}

fn table(pages: &[Page], secs: u32) {
    println!(
        "\n| devices | sim processes | hiktalk CPU ({secs} s) | of one core | per device | peak RSS | RSS per device | simulators' CPU | underruns / overflow (devices with either) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let base = pages.iter().find(|p| p.devices == 1).map(|p| p.cost.max_rss_mb);
    for p in pages {
        let per_device_rss = match base {
            Some(b) if p.devices > 1 => format!("{:.0} KB", (p.cost.max_rss_mb - b) * 1024.0 / (p.devices - 1) as f64),
            _ => "-".into(),
        };
        println!(
            "| {} | {} | {:.2} s | {:.2} % | {:.3} ms/s | {:.1} MB | {per_device_rss} | {:.2} s | {} / {:.0} ms ({}) |",
            p.devices,
            p.sims,
            p.cost.cpu.as_secs_f64(),
            p.cost.core_percent(),
            p.cpu_per_device_ms_per_s(),
            p.cost.max_rss_mb,
            p.sims_cpu,
            p.underruns,
            p.overflow_ms,
            p.unhappy
        );
    }
}

/// Two panels over the number of devices (log scale): hiktalk's CPU per device, and its peak
/// RSS. Text needs a font: DejaVu Sans, as Debian installs it (`HIKTALK_BENCH_FONT` otherwise).
fn plot(pages: &[Page], path: &str, secs: u32) -> Result<(), Box<dyn std::error::Error>> {
    let font = env_or("HIKTALK_BENCH_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
    let bytes: &'static [u8] = Box::leak(std::fs::read(&font).map_err(|e| format!("{font}: {e}"))?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| format!("{font}: not a font"))?;
    let root = BitMapBackend::new(path, (1100, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(550);
    let max_devices = pages.iter().map(|p| p.devices).max().unwrap_or(1) as f64;
    let x = (0.8..max_devices * 1.25).log_scale();
    let per_device: Vec<(f64, f64)> = pages.iter().map(|p| (p.devices as f64, p.cpu_per_device_ms_per_s())).collect();
    let top = per_device.iter().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&left)
        .caption(format!("hiktalk CPU per device ({secs} s page)"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x.clone(), 0.0..top)?;
    chart.configure_mesh().x_desc("devices").x_label_formatter(&|x| format!("{x:.0}")).y_desc("ms of CPU per second, per device").draw()?;
    chart.draw_series(LineSeries::new(per_device.clone(), BLUE.stroke_width(2)))?;
    chart.draw_series(per_device.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))?;
    let rss: Vec<(f64, f64)> = pages.iter().map(|p| (p.devices as f64, p.cost.max_rss_mb)).collect();
    let top = rss.iter().map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&right)
        .caption("hiktalk peak RSS", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x, 0.0..top)?;
    chart.configure_mesh().x_desc("devices").x_label_formatter(&|x| format!("{x:.0}")).y_desc("MB").draw()?;
    chart.draw_series(LineSeries::new(rss.clone(), RED.stroke_width(2)))?;
    chart.draw_series(rss.iter().map(|&p| Circle::new(p, 4, RED.filled())))?;
    root.present()?;
    Ok(())
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test` of benches runs nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let secs: u32 = env_or("HIKTALK_BENCH_SECS", "30").parse().expect("HIKTALK_BENCH_SECS");
    let per_sim: usize = env_or("HIKTALK_BENCH_PER_SIM", "250").parse().expect("HIKTALK_BENCH_PER_SIM");
    let wav = dir.path().join("page.wav");
    tone_file(&wav, secs);
    let pages: Vec<Page> = env_or("HIKTALK_BENCH_DEVICES", "1,50,200")
        .split(',')
        .map(|n| page(n.trim().parse().expect("HIKTALK_BENCH_DEVICES: numbers"), per_sim, &wav))
        .collect();
    table(&pages, secs);
    let path = env_or("HIKTALK_BENCH_PLOT", concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/paging.png"));
    if path != "none" {
        match plot(&pages, &path, secs) {
            Ok(()) => println!("\nplot: {path}"),
            Err(e) => println!("\nno plot: {e}"),
        }
    }
}
