//! Per round of a run file with truth: in each class, as many of the highest spectral scores
//! as the class has truly bad samples, and as many of the highest losses: how many truly bad
//! samples each holds. `cargo run --release --example spectral_rounds -- RUN.itlm`

use itlm_inspector::export::RunFile;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: spectral_rounds RUN.itlm");
        std::process::exit(2);
    };
    let run = match RunFile::read(std::path::Path::new(&path)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let Some(truth) = &run.truth else {
        eprintln!("{path}: no truth");
        std::process::exit(1);
    };
    let d = &run.dataset;
    let n = d.labels.len();
    for (c, name) in d.classes.iter().enumerate() {
        let rows: Vec<usize> = (0..n).filter(|&i| d.labels[i] as usize == c).collect();
        let bad = rows.iter().filter(|&&i| truth.bad[i]).count();
        if bad == 0 {
            continue;
        }
        println!("{name}: {} samples, {bad} truly bad", rows.len());
        for r in &run.rounds {
            let top = |v: &[f32]| {
                let mut o = rows.clone();
                o.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
                o[..bad].iter().filter(|&&i| truth.bad[i]).count()
            };
            let spectral = if r.spectral.len() == n {
                top(&r.spectral).to_string()
            } else {
                "-".into()
            };
            println!(
                "  round {:>2}: highest losses hold {:>4}, highest spectral scores {:>4}",
                r.round,
                top(&r.loss),
                spectral
            );
        }
    }
}
