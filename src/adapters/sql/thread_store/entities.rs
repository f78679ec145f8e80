//! SeaORM entities of the thread store: the adapter's own wire types, never seen outside
//! the SQL adapter (the user data store reads them too).

pub(in crate::adapters::sql) mod feedback;
pub(in crate::adapters::sql) mod item;
pub(in crate::adapters::sql) mod study_state;
pub(in crate::adapters::sql) mod thread;
