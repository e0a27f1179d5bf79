//! `replay --html`: the report as one self-contained HTML page for people.
//! Everything is inline (styles, an SVG timeline, a little script for
//! sorting and filtering tables) and a Content-Security-Policy forbids the
//! page any request at all: it opens offline, from an attachment, anywhere.
//! The figures carry `id`s (`events_read`, `would_break`…) so a test can read
//! them back from the rendered page.

use iamsim::audit::replay::{DecisionCounts, Group, Report};
use std::fmt::Write;

use super::output::markup as esc;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
.figures{display:flex;flex-wrap:wrap;gap:12px}\
.figure{border:1px solid #d5dae3;border-radius:6px;padding:8px 12px;min-width:120px}\
.figure b{display:block;font-size:20px}\
table{border-collapse:collapse;margin-top:8px;width:100%}\
th,td{border-bottom:1px solid #e3e6ec;padding:4px 8px;text-align:left;vertical-align:top}\
th{cursor:pointer;background:#f4f6f9;user-select:none}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.bad{color:#b3261e}.warn{color:#8a5a00}.ok{color:#1e7b34}\
code{font-size:12px;word-break:break-all}\
#filter{padding:4px 8px;width:320px}";

/// Sorts a table by the clicked column (numbers as numbers) and keeps only
/// rows whose principal cell holds the filter text.
const SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,i){\
th.addEventListener('click',function(){var t=th.closest('table'),b=t.tBodies[0],rows=Array.from(b.rows),\
up=th.dataset.dir!=='asc';th.dataset.dir=up?'asc':'desc';rows.sort(function(x,y){\
var a=x.cells[i].innerText,c=y.cells[i].innerText,n=parseFloat(a),m=parseFloat(c);\
var r=(!isNaN(n)&&!isNaN(m))?n-m:a.localeCompare(c);return up?r:-r});rows.forEach(function(r){b.appendChild(r)})})});\
document.getElementById('filter').addEventListener('input',function(e){var q=e.target.value.toLowerCase();\
document.querySelectorAll('tr[data-principal]').forEach(function(r){\
r.style.display=r.dataset.principal.toLowerCase().indexOf(q)<0?'none':''})});\
document.body.dataset.ready='yes';";

/// The report as a page.
pub fn render(report: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
<title>iamsim replay report</title><style>{STYLE}</style></head><body>\n<h1>iamsim replay report</h1>\n"
    );
    summary(&mut h, report);
    timeline(&mut h, &report.decisions_by_hour);
    h.push_str("<h2>Breakage</h2>\n<p><label>Filter by principal: <input id=\"filter\" type=\"search\" placeholder=\"arn:aws:iam::…\"></label></p>\n");
    groups(&mut h, "would_break", "Would break: recorded successes the policies certainly deny", &report.would_break);
    groups(
        &mut h,
        "would_break_unless",
        "Would break unless something not provided allows it",
        &report.would_break_unless,
    );
    groups(&mut h, "disagreements", "Disagreements: recorded AccessDenied, simulated allow", &report.disagreements);
    unused(&mut h, report);
    skipped(&mut h, report);
    inputs(&mut h, report);
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    h
}

fn figure(h: &mut String, id: &str, label: &str, value: usize, class: &str) {
    let _ = write!(h, "<div class=\"figure\"><b id=\"{id}\" class=\"{class}\">{value}</b>{}</div>", esc(label));
}

fn summary(h: &mut String, r: &Report) {
    h.push_str("<h2>Summary</h2>\n<div class=\"figures\">");
    figure(h, "files", "log files", r.files, "");
    figure(h, "events_read", "events read", r.events_read, "");
    figure(h, "events_evaluated", "evaluated", r.events_evaluated, "");
    figure(h, "events_skipped", "skipped", r.events_skipped, "");
    figure(h, "service_principal_events", "by AWS services", r.service_principal_events, "");
    figure(h, "checks", "checks", r.checks, "");
    figure(h, "allowed", "allowed", r.decisions.allowed, "ok");
    figure(h, "explicit_deny", "explicit deny", r.decisions.explicit_deny, "bad");
    figure(h, "implicit_deny", "implicit deny", r.decisions.implicit_deny, "bad");
    figure(h, "indeterminate", "indeterminate", r.decisions.indeterminate, "warn");
    figure(h, "would_break", "would break (checks)", r.breakage.would_break, "bad");
    figure(h, "would_break_unless", "would break unless (checks)", r.breakage.would_break_unless, "warn");
    figure(h, "disagreements", "disagreements (checks)", r.breakage.disagreements, "warn");
    h.push_str("</div>\n");
}

/// Stacked bars of decisions per hour (per day past 400 hours), inline SVG.
fn timeline(h: &mut String, by_hour: &std::collections::BTreeMap<String, DecisionCounts>) {
    h.push_str("<h2>Decisions over time (UTC)</h2>\n");
    let mut buckets: Vec<(String, [usize; 3])> = Vec::new();
    let daily = by_hour.len() > 400;
    for (hour, c) in by_hour {
        let key = if daily { hour.get(..10).unwrap_or(hour).to_string() } else { hour.clone() };
        let counts = [c.allowed, c.explicit_deny + c.implicit_deny, c.indeterminate];
        match buckets.last_mut() {
            Some((k, sum)) if *k == key => {
                for (s, n) in sum.iter_mut().zip(counts) {
                    *s += n;
                }
            }
            _ => buckets.push((key, counts)),
        }
    }
    if buckets.is_empty() {
        h.push_str("<p>No decisions.</p>\n");
        return;
    }
    let max = buckets.iter().map(|(_, c)| c.iter().sum::<usize>()).max().unwrap_or(1).max(1);
    let (width, height, bar) = (960usize, 220usize, (960 / buckets.len()).clamp(2, 40));
    let _ = write!(
        h,
        "<svg id=\"timeline\" role=\"img\" aria-label=\"decisions per {}\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">",
        if daily { "day" } else { "hour" },
        height + 40,
        height + 40
    );
    let colours = ["#1e7b34", "#b3261e", "#8a8f99"];
    for (i, (key, counts)) in buckets.iter().enumerate() {
        let x = i * bar;
        let mut y = height;
        for (n, colour) in counts.iter().zip(colours) {
            let px = n * height / max;
            if px > 0 {
                y -= px;
                let _ = write!(
                    h,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{px}\" fill=\"{colour}\"/>",
                    bar.saturating_sub(1).max(1)
                );
            }
        }
        let _ = write!(
            h,
            "<title>{}: {} allowed, {} denied, {} indeterminate</title>",
            esc(key),
            counts[0],
            counts[1],
            counts[2]
        );
    }
    let (first, last) = (&buckets[0].0, &buckets[buckets.len() - 1].0);
    let _ = write!(
        h,
        "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><text x=\"{width}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
<text x=\"{width}\" y=\"12\" font-size=\"12\" text-anchor=\"end\">tallest bar: {max} checks</text></svg>\n\
<p><span class=\"ok\">&#9632; allowed</span> <span class=\"bad\">&#9632; denied</span> <span style=\"color:#8a8f99\">&#9632; indeterminate</span></p>\n",
        height + 16,
        esc(first),
        height + 16,
        esc(last)
    );
}

fn groups(h: &mut String, id: &str, title: &str, groups: &[Group]) {
    let _ = writeln!(h, "<h3>{} ({} groups)</h3>", esc(title), groups.len());
    if groups.is_empty() {
        let _ = writeln!(h, "<p id=\"{id}-none\">None.</p>");
        return;
    }
    let _ = writeln!(
        h,
        "<table id=\"{id}-table\" class=\"sortable\"><thead><tr><th>principal</th><th>action</th><th>resource</th>\
<th>checks</th><th>sample events</th><th>depends on</th><th>status</th></tr></thead><tbody>"
    );
    for g in groups {
        let _ = writeln!(
            h,
            "<tr data-principal=\"{p}\"><td><code>{p}</code></td><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td>\
<td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&g.action),
            esc(if g.resource.is_empty() { "(not named by the events)" } else { &g.resource }),
            g.count,
            esc(&g.event_ids.join(" ")),
            esc(g.unless_detail.as_deref().unwrap_or("")),
            g.status.map_or("", |s| s.as_str()),
            p = esc(&g.principal)
        );
    }
    h.push_str("</tbody></table>\n");
}

fn unused(h: &mut String, r: &Report) {
    let _ = writeln!(h, "<h2>Unused permissions ({} principals)</h2>", r.unused_permissions.len());
    if !r.unused_permissions.is_empty() {
        h.push_str(
            "<table id=\"unused-table\" class=\"sortable\"><thead><tr><th>principal</th><th>unused statements</th>\
<th>actions granted, never called</th></tr></thead><tbody>\n",
        );
        for u in &r.unused_permissions {
            let (principal, statements, actions) = (&u.principal, u.unused_statements.len(), &u.unused_actions);
            let _ = writeln!(
                h,
                "<tr data-principal=\"{p}\"><td><code>{p}</code></td><td class=\"n\">{statements}</td><td>{}</td></tr>",
                esc(&actions.join(", ")),
                p = esc(principal)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    if !r.principals_without_events.is_empty() {
        let _ = writeln!(
            h,
            "<p>With policies and no event in the logs: <code>{}</code></p>",
            esc(&r.principals_without_events.join(", "))
        );
    }
}

fn skipped(h: &mut String, r: &Report) {
    let _ = writeln!(h, "<h2>Skipped and malformed ({} events skipped)</h2>", r.events_skipped);
    h.push_str("<table id=\"skipped-table\" class=\"sortable\"><thead><tr><th>reason</th><th>events</th></tr></thead><tbody>\n");
    for (why, n) in &r.skipped_details {
        let _ = writeln!(h, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", esc(why));
    }
    h.push_str("</tbody></table>\n");
    if !r.malformed.is_empty() {
        h.push_str("<h3>Malformed records (where)</h3>\n<ul id=\"malformed\">");
        for m in &r.malformed {
            let _ = write!(h, "<li><code>{}</code></li>", esc(m));
        }
        h.push_str("</ul>\n");
    }
}

fn inputs(h: &mut String, r: &Report) {
    let Some(inputs) = &r.inputs else { return };
    let value = serde_json::to_value(inputs).unwrap_or_default();
    h.push_str("<h2>Inputs</h2>\n<table id=\"inputs-table\"><tbody>\n");
    if let Some(fields) = value.as_object() {
        for (name, v) in fields {
            let text = match v {
                serde_json::Value::Array(items) => {
                    items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join(", ")
                }
                serde_json::Value::Null => continue,
                other => other.as_str().map_or_else(|| other.to_string(), str::to_string),
            };
            if !text.is_empty() {
                let _ = writeln!(h, "<tr><th>{}</th><td><code>{}</code></td></tr>", esc(name), esc(&text));
            }
        }
    }
    h.push_str("</tbody></table>\n");
}
