//! What the loom model files share (`mod loom_common;` in each that uses it).
#![allow(dead_code)] // each file uses its own subset

use threadkit::loom_hooks::{self, LotPhase};

/// Runs `f` as a loom model once per [`LotPhase`]: first with every lock's
/// first contended unlock a fair hand-off, then with it a barging unlock (later
/// ones alternate), so each contended unlock is explored both ways. A failure
/// names the phase.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let f = std::sync::Arc::new(f);
    for phase in LotPhase::BOTH {
        let f = std::sync::Arc::clone(&f);
        let _name = NamePhaseOnPanic(phase);
        loom_hooks::with_lot_phase(phase, || loom::model(move || f()));
    }
}

/// Says which phase failed when a model panics.
pub struct NamePhaseOnPanic(pub LotPhase);

impl Drop for NamePhaseOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("(the failing model ran in the {:?} phase)", self.0);
        }
    }
}
