//! Bar charts drawn as SVG on the server: one bar per channel, labelled with
//! its value, so the chart reads without script and says the same to a
//! screen reader (`role="img"` with a text alternative).

use maud::{Markup, html};

const BAR_HEIGHT: f64 = 28.0;
const LABEL_WIDTH: f64 = 150.0;
const WIDTH: f64 = 600.0;

/// One bar: its label, its length's value and the text shown beside it.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
}

/// Horizontal bars scaled to the largest value.
pub fn bars(title: &str, bars: &[Bar]) -> Markup {
    let largest = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let room = WIDTH - LABEL_WIDTH - 90.0;
    let height = BAR_HEIGHT * bars.len().max(1) as f64 + 8.0;
    let summary: Vec<String> = bars.iter().map(|b| format!("{} {}", b.label, b.shown)).collect();
    html! {
        figure {
            figcaption { (title) }
            svg role="img" aria-label={ (title) ": " (summary.join(", ")) } viewBox={ "0 0 " (WIDTH) " " (height) }
                width="100%" xmlns="http://www.w3.org/2000/svg" {
                @for (i, bar) in bars.iter().enumerate() {
                    @let y = i as f64 * BAR_HEIGHT + 4.0;
                    @let length = if largest > 0.0 { bar.value / largest * room } else { 0.0 };
                    text x="0" y=(y + 18.0) { (bar.label) }
                    rect x=(LABEL_WIDTH) y=(y) width=(format!("{length:.1}")) height=(BAR_HEIGHT - 8.0) fill="#0b57d0" {}
                    text x=(format!("{:.1}", LABEL_WIDTH + length + 6.0)) y=(y + 18.0) { (bar.shown) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_bar_fills_the_room_and_labels_are_escaped() {
        let svg = bars(
            "Orders",
            &[
                Bar { label: "web".into(), value: 4.0, shown: "4".into() },
                Bar { label: "<app>".into(), value: 2.0, shown: "2".into() },
            ],
        )
        .into_string();
        assert!(svg.contains(r#"width="360.0""#), "{svg}");
        assert!(svg.contains(r#"width="180.0""#));
        assert!(svg.contains("&lt;app&gt;"));
    }
}
