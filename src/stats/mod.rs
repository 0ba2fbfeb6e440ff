//! Correlation statistics on the station × period panel (filled in by the stats engine work).
