//! The results: a table of workload x peer with the ratio to `raw`, the
//! goals checked against ttc's figures, and the same as JSON.

use std::fmt::Write as _;

use crate::conn::PeerKind;
use crate::workloads::{Better, Metric};

/// One line of the table: a metric of a workload, one value per peer.
#[derive(Debug)]
pub struct Row {
    pub workload: &'static str,
    pub key: String,
    pub unit: &'static str,
    pub better: Better,
    pub values: [Option<f64>; 4],
}

/// Everything measured in one run.
#[derive(Debug)]
pub struct Results {
    pub peers: Vec<PeerKind>,
    pub rows: Vec<Row>,
    pub errors: Vec<(&'static str, PeerKind, String)>,
}

fn slot(p: PeerKind) -> usize {
    PeerKind::ALL.iter().position(|&q| q == p).unwrap_or(0)
}

impl Results {
    pub fn new(peers: Vec<PeerKind>) -> Results {
        Results {
            peers,
            rows: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Records a run; repeated runs of the same metric keep the best.
    pub fn add(&mut self, workload: &'static str, peer: PeerKind, metrics: Vec<Metric>) {
        for mt in metrics {
            let i = match self
                .rows
                .iter()
                .position(|r| r.workload == workload && r.key == mt.key)
            {
                Some(i) => i,
                None => {
                    self.rows.push(Row {
                        workload,
                        key: mt.key.clone(),
                        unit: mt.unit,
                        better: mt.better,
                        values: [None; 4],
                    });
                    self.rows.len() - 1
                }
            };
            let cell = &mut self.rows[i].values[slot(peer)];
            *cell = Some(match (*cell, mt.better) {
                (None, _) => mt.value,
                (Some(v), Better::Higher) => v.max(mt.value),
                (Some(v), Better::Lower) => v.min(mt.value),
            });
        }
    }

    pub fn error(&mut self, workload: &'static str, peer: PeerKind, e: String) {
        self.errors.push((workload, peer, e));
    }
}

impl Row {
    /// This peer's value over raw's, when both exist and raw's is not 0.
    pub fn ratio(&self, peer: PeerKind) -> Option<f64> {
        let raw = self.values[slot(PeerKind::Raw)]?;
        let v = self.values[slot(peer)]?;
        (raw > 0.0 && peer != PeerKind::Raw).then(|| v / raw)
    }
}

/// A figure with about three significant digits.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The table as Markdown (it reads as plain text too).
pub fn table(r: &Results) -> String {
    let mut head = vec!["workload".to_string(), "metric".into(), "unit".into()];
    head.extend(r.peers.iter().map(|p| p.name().to_string()));
    let mut lines = vec![head];
    for row in &r.rows {
        let mut l = vec![
            row.workload.to_string(),
            row.key.clone(),
            row.unit.to_string(),
        ];
        for &p in &r.peers {
            l.push(match (row.values[slot(p)], row.ratio(p)) {
                (None, _) => "-".into(),
                (Some(v), None) => num(v),
                (Some(v), Some(x)) => format!("{} ({}x)", num(v), num(x)),
            });
        }
        lines.push(l);
    }
    let cols = lines[0].len();
    let width: Vec<usize> = (0..cols)
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        out.push('|');
        for (c, cell) in l.iter().enumerate() {
            if c < 3 {
                let _ = write!(out, " {cell:<w$} |", w = width[c]);
            } else {
                let _ = write!(out, " {cell:>w$} |", w = width[c]);
            }
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for (c, w) in width.iter().enumerate() {
                let dashes = "-".repeat(*w);
                if c < 3 {
                    let _ = write!(out, "-{dashes}-|");
                } else {
                    let _ = write!(out, "-{dashes}:|");
                }
            }
            out.push('\n');
        }
    }
    out
}

/// A goal from the issue, checked against ttc's figure.
pub struct Goal {
    pub text: &'static str,
    pub workload: &'static str,
    pub key: &'static str,
    /// Compare the ratio to raw (else the value itself).
    pub ratio: bool,
    /// The figure must be at least (else at most) the target.
    pub at_least: bool,
    pub target: f64,
}

pub const GOALS: &[Goal] = &[
    Goal {
        text: "upload >= 0.9x raw",
        workload: "upload",
        key: "mbps",
        ratio: true,
        at_least: true,
        target: 0.9,
    },
    Goal {
        text: "download >= 0.9x raw",
        workload: "download",
        key: "mbps",
        ratio: true,
        at_least: true,
        target: 0.9,
    },
    Goal {
        text: "download CPU per MiB <= 1.3x raw",
        workload: "download",
        key: "cpu_ms_per_mib",
        ratio: true,
        at_least: false,
        target: 1.3,
    },
    Goal {
        text: "upload CPU per MiB <= raw",
        workload: "upload",
        key: "cpu_ms_per_mib",
        ratio: true,
        at_least: false,
        target: 1.0,
    },
    Goal {
        text: "download <= 50 context switches per MiB",
        workload: "download",
        key: "csw_per_mib",
        ratio: false,
        at_least: false,
        target: 50.0,
    },
    Goal {
        text: "upload <= 15 context switches per MiB",
        workload: "upload",
        key: "csw_per_mib",
        ratio: false,
        at_least: false,
        target: 15.0,
    },
    Goal {
        text: "ping-pong p50 <= 2x raw",
        workload: "pingpong",
        key: "p50_us",
        ratio: true,
        at_least: false,
        target: 2.0,
    },
    Goal {
        text: "sparse p99 <= 1 ms (host goal)",
        workload: "sparse",
        key: "p99_us",
        ratio: false,
        at_least: false,
        target: 1000.0,
    },
    Goal {
        text: "idle <= 1 wake-up/s",
        workload: "idle",
        key: "wakeups_per_s",
        ratio: false,
        at_least: false,
        target: 1.0,
    },
    Goal {
        text: "idle: no measurable CPU (<= 1 us/s)",
        workload: "idle",
        key: "cpu_us_per_s",
        ratio: false,
        at_least: false,
        target: 1.0,
    },
    Goal {
        text: "zero allocations per message",
        workload: "allocs",
        key: "allocs_per_msg",
        ratio: false,
        at_least: false,
        target: 0.0,
    },
    Goal {
        text: "<= 48 KiB RSS per additional client",
        workload: "scale",
        key: "kib_per_added_client",
        ratio: false,
        at_least: false,
        target: 48.0,
    },
    Goal {
        text: "shutdown p99 < 50 ms",
        workload: "shutdown",
        key: "p99_us",
        ratio: false,
        at_least: false,
        target: 50_000.0,
    },
    Goal {
        text: "connect, first family blackholed: <= attempt delay (250 ms) + 50 ms",
        workload: "connect",
        key: "blackholed_max_ms",
        ratio: false,
        at_least: false,
        target: 300.0,
    },
    Goal {
        text: "Shutdown during a pending connect: final signal <= 5 ms",
        workload: "connect",
        key: "stop_pending_max_us",
        ratio: false,
        at_least: false,
        target: 5_000.0,
    },
    Goal {
        text: "connect phase on loopback <= 1.1x a plain TcpStream::connect (alternated)",
        workload: "connect",
        key: "phase_over_plain",
        ratio: false,
        at_least: false,
        target: 1.1,
    },
    Goal {
        text: "upload with reconnect >= 0.9x without",
        workload: "reconnect",
        key: "kept_vs_plain",
        ratio: false,
        at_least: true,
        target: 0.9,
    },
    Goal {
        text: "back to data <= backoff wait + 1 RTT + 50 ms",
        workload: "reconnect",
        key: "over_delay_max_ms",
        ratio: false,
        at_least: false,
        target: 50.0,
    },
];

/// A goal's outcome: the figure compared and whether it is met.
pub struct Checked {
    pub goal: &'static Goal,
    pub figure: f64,
    pub met: bool,
}

pub fn check_goals(r: &Results) -> Vec<Checked> {
    let mut out = Vec::new();
    for g in GOALS {
        let Some(row) = r
            .rows
            .iter()
            .find(|x| x.workload == g.workload && x.key == g.key)
        else {
            continue;
        };
        let figure = if g.ratio {
            row.ratio(PeerKind::Ttc)
        } else {
            row.values[slot(PeerKind::Ttc)]
        };
        let Some(figure) = figure else { continue };
        let met = if g.at_least {
            figure >= g.target
        } else {
            figure <= g.target
        };
        out.push(Checked {
            goal: g,
            figure,
            met,
        });
    }
    out
}

pub fn goals_text(checked: &[Checked]) -> String {
    let mut out = String::new();
    for c in checked {
        let g = c.goal;
        let x = if g.ratio { "x" } else { "" };
        let verdict = if c.met {
            "met".to_string()
        } else if g.target == 0.0 {
            "MISSED".to_string()
        } else {
            let off = (c.figure / g.target - 1.0).abs() * 100.0;
            let dir = if g.at_least { "short" } else { "over" };
            format!("MISSED ({off:.0} % {dir})")
        };
        let _ = writeln!(
            out,
            "- {}: ttc {}{x} (target {}{x}): {verdict}",
            g.text,
            num(c.figure),
            num(g.target)
        );
    }
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn jnum(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

/// The run as JSON: `meta` (string pairs), then rows, errors and goals.
pub fn json(r: &Results, meta: &[(&str, String)], checked: &[Checked]) -> String {
    let mut o = String::from("{\n");
    for (k, v) in meta {
        let _ = writeln!(o, "  {}: {},", esc(k), esc(v));
    }
    let peers: Vec<String> = r.peers.iter().map(|p| esc(p.name())).collect();
    let _ = writeln!(o, "  \"peers\": [{}],", peers.join(", "));
    o.push_str("  \"rows\": [\n");
    for (i, row) in r.rows.iter().enumerate() {
        let vals: Vec<String> = r
            .peers
            .iter()
            .filter_map(|&p| row.values[slot(p)].map(|v| format!("{}: {}", esc(p.name()), jnum(v))))
            .collect();
        let ratios: Vec<String> = r
            .peers
            .iter()
            .filter_map(|&p| {
                row.ratio(p)
                    .map(|v| format!("{}: {}", esc(p.name()), jnum(v)))
            })
            .collect();
        let better = match row.better {
            Better::Higher => "higher",
            Better::Lower => "lower",
        };
        let _ = write!(
            o,
            "    {{\"workload\": {}, \"metric\": {}, \"unit\": {}, \"better\": \"{better}\", \"values\": {{{}}}, \"ratio_to_raw\": {{{}}}}}",
            esc(row.workload),
            esc(&row.key),
            esc(row.unit),
            vals.join(", "),
            ratios.join(", ")
        );
        o.push_str(if i + 1 < r.rows.len() { ",\n" } else { "\n" });
    }
    o.push_str("  ],\n  \"errors\": [");
    let errs: Vec<String> = r
        .errors
        .iter()
        .map(|(w, p, e)| {
            format!(
                "{{\"workload\": {}, \"peer\": {}, \"error\": {}}}",
                esc(w),
                esc(p.name()),
                esc(e)
            )
        })
        .collect();
    o.push_str(&errs.join(", "));
    o.push_str("],\n  \"goals\": [\n");
    for (i, c) in checked.iter().enumerate() {
        let _ = write!(
            o,
            "    {{\"goal\": {}, \"workload\": {}, \"metric\": {}, \"ratio_to_raw\": {}, \"figure\": {}, \"target\": {}, \"met\": {}}}",
            esc(c.goal.text),
            esc(c.goal.workload),
            esc(c.goal.key),
            c.goal.ratio,
            jnum(c.figure),
            jnum(c.goal.target),
            c.met
        );
        o.push_str(if i + 1 < checked.len() { ",\n" } else { "\n" });
    }
    o.push_str("  ]\n}\n");
    o
}
