//! Reads that need nothing of the worker (`GET /v1/users/{id}` and its explanation) run on
//! connections of their own, on blocking threads: they never wait behind event processing,
//! applies or other jobs, and a full work queue does not refuse them. They see what is
//! committed, and the policies the worker loaded last (set at start and at each reload).

use std::sync::{Arc, Mutex, RwLock};

use polc_provision::config::StateConfig;
use polc_provision::state::State;
use polc_provision::LoadedBundle;
use tokio::sync::Semaphore;

/// Reads at once at most (each on a connection of its own).
pub const READERS: usize = 4;

pub struct Readers {
    config: StateConfig,
    idle: Mutex<Vec<State>>,
    permits: Arc<Semaphore>,
    /// The policies the worker runs.
    pub bundle: RwLock<Option<LoadedBundle>>,
}

impl Readers {
    pub fn new(config: StateConfig) -> Readers {
        Readers {
            config,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(READERS)),
            bundle: RwLock::new(None),
        }
    }

    pub fn set_bundle(&self, b: LoadedBundle) {
        *self.bundle.write().unwrap_or_else(|e| e.into_inner()) = Some(b);
    }

    /// Runs `f` on a connection of the pool (opened when none is idle) with the current
    /// policies, on a blocking thread. `None` before the policies are loaded.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Readers>,
        f: impl FnOnce(&State, &LoadedBundle) -> T + Send + 'static,
    ) -> Result<Option<T>, String> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let Some(b) = me.bundle.read().unwrap_or_else(|e| e.into_inner()).clone() else {
                return Ok(None);
            };
            let st = me.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let st = match st {
                Some(s) => s,
                None => State::open_config(&me.config).map_err(|e| e.to_string())?,
            };
            let out = f(&st, &b);
            me.idle.lock().unwrap_or_else(|e| e.into_inner()).push(st);
            Ok(Some(out))
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
