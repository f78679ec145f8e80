//! Thread titles and the auto-start trigger.
