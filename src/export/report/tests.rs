use super::charts::histogram;
use super::{base64, esc};

#[test]
fn esc_escapes_markup_and_quotes() {
    assert_eq!(
        esc("<a href=\"x\">it's & </a>"),
        "&lt;a href=&quot;x&quot;&gt;it&#39;s &amp; &lt;/a&gt;"
    );
    assert_eq!(esc("a\u{0}b"), "a\u{fffd}b");
    assert_eq!(esc("plain ä"), "plain ä");
}

#[test]
fn base64_matches_the_rfc_vectors() {
    // RFC 4648, section 10.
    for (i, o) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(i.as_bytes()), o, "{i}");
    }
}

#[test]
fn histogram_bars_hold_every_finite_score() {
    let scores = [0.1, 0.2, 0.2, 3.0, f32::NAN, f32::INFINITY, 2.5];
    let kept = [true, true, true, false, false, false, true];
    let (svg, not_finite) = histogram(&scores, &kept, Some(3.0), 4, "loss");
    assert_eq!(not_finite, 2);
    // Each bar's tooltip says how many it holds: they add up to the finite scores, by side.
    let count = |what: &str| -> usize {
        svg.match_indices(&format!(" {what}, "))
            .map(|(at, _)| {
                let start = svg[..at].rfind('>').unwrap() + 1;
                svg[start..at].parse::<usize>().unwrap()
            })
            .sum()
    };
    assert_eq!(count("kept"), 4);
    assert_eq!(count("trimmed"), 1);
    assert_eq!(svg.matches("class=\"cut\"").count(), 1);
    let (svg, _) = histogram(&scores, &kept, None, 4, "<loss>");
    assert!(!svg.contains("class=\"cut\""));
    assert!(svg.contains("&lt;loss&gt;"));
}

/// Recall drawn on precision where they are equal (review: the precision line vanished under
/// it): the dashed line and its smaller points let the one under it show.
#[test]
fn a_dashed_series_shows_the_equal_one_under_it() {
    use super::charts::{metrics_chart, Series};
    let same = vec![Some(0.5), Some(0.8)];
    let svg = metrics_chart(
        &[0, 1],
        &[
            Series {
                name: "precision",
                colour: "#f58518",
                values: same.clone(),
                dashed: false,
            },
            Series {
                name: "recall",
                colour: "#9d755d",
                values: same,
                dashed: true,
            },
        ],
    );
    let lines: Vec<&str> = svg.split("<polyline").skip(1).collect();
    assert_eq!(lines.len(), 2);
    assert!(!lines[0].contains("stroke-dasharray"), "{svg}");
    assert!(lines[1].contains("stroke-dasharray"), "{svg}");
    assert!(svg.contains(r##"r="2" fill="#9d755d""##), "{svg}");
    assert!(svg.contains(r##"r="3" fill="#f58518""##), "{svg}");
}
