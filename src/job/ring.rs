//! The ring check before talking to a doorbell (`play`, `speak`, every job that talks).

use super::Context;
use crate::isapi::Device;
use crate::isapi::intercom::CallState;
use crate::outcome::Ending;
use std::time::Duration;

/// Before talking to a doorbell: a ring in progress is stopped with `--stop-ring`, else the talk
/// is not sent ([`Ending::Ringing`]: the unit would take the audio and play none of it).
/// Devices without call control say nothing.
pub async fn before_talk(device: &Device, name: &str, stop_ring: bool, ctx: &Context) -> Result<(), Ending> {
    let ringing = tokio::time::timeout(Duration::from_secs(2), device.call_state()).await;
    if !matches!(ringing, Ok(Ok(CallState::Ring))) {
        return Ok(());
    }
    if !stop_ring {
        return Err(Ending::Ringing);
    }
    match device.stop_ring().await {
        Ok(()) => ctx.out.note(&format!("{name}: stopped the ring (DELETE /ISAPI/VideoIntercom/ring)")),
        Err(e) => ctx.out.warn(&format!("{name}: could not stop the ring: {e}; the audio may not be played until it stops")),
    }
    Ok(())
}
