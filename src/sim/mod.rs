//! A simulated Hikvision device speaking ISAPI two-way audio (see the simulator issue).
