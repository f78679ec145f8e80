//! SeaORM entities of the thread store: the adapter's own wire types, never seen outside it.

pub(super) mod feedback;
pub(super) mod item;
pub(super) mod study_state;
pub(super) mod thread;
