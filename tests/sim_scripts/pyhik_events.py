"""pyhik (PyPI, pinned in .ci/deps) tracks a device's events as Home Assistant's hikvision
integration does: deviceInfo, /ISAPI/Event/triggers, motionDetection, then the alertStream.

Usage: pyhik_events.py PORT USER PASSWORD SENSOR...
Prints one JSON line `ready` (with what pyhik learnt of the device) once its stream is
connected, then one line per state change of the named sensors ("Motion", "I/O"), and exits
once each has gone on and off again (or after 30 s)."""
import json, sys, threading, time
from pyhik.hikvision import HikCamera

port, user, password, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
cam = HikCamera("http://127.0.0.1", port=int(port), usr=user, pwd=password)
# Motion detection off and on again through pyhik's own PUT, read back each time.
cam.disable_motion_detection()
off = cam.get_motion_detection()
cam.enable_motion_detection()
on = cam.get_motion_detection()
done = threading.Event()
seen = {s: [] for s in wanted}
lock = threading.Lock()

def changed(msg):
    with lock:
        for sensor in wanted:
            state = cam.fetch_attributes(sensor, 1)
            # Callbacks also fire when the stream connects: only a change counts.
            if state is None or (seen[sensor][-1] if seen[sensor] else False) == state[0]:
                continue
            seen[sensor].append(state[0])
            print(json.dumps({"sensor": sensor, "on": state[0], "count": state[2]}), flush=True)
        if all(v[:2] == [True, False] for v in seen.values()):
            done.set()

for sensor in wanted:
    cam.add_update_callback(changed, "{}.{}.1".format(cam.get_id, sensor))
cam.start_stream()
deadline = time.time() + 10
while not cam.stream_connected and time.time() < deadline:
    time.sleep(0.02)
print(json.dumps({"ready": cam.stream_connected, "name": cam.get_name, "id": str(cam.get_id), "type": cam.get_type,
                  "sensors": sorted(cam.current_event_states), "motion_off": off, "motion_on": on}), flush=True)
done.wait(30)
cam.disconnect()
print(json.dumps({"done": done.is_set()}), flush=True)
