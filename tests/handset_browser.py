"""Drives Debian's chromium through chromium-driver (selenium) for tests/handset.rs.

The Rust test says what to do, one command a line on stdin; each is answered with one JSON
line on stdout ({"ok": value} or {"error": text}):

    open URL                 a new tab at URL
    eval JS                  the value of `return (JS)` in the page
    wait JS SECONDS          until `return (JS)` is truthy
    click ID                 clicks #ID (a real pointer click: a user gesture)
    file ID PATH             chooses PATH in the file input #ID
    shot NAME WIDTH HEIGHT   a PNG of the page at that size, as a phone (WIDTH < 600) or not
    closetab                 closes the tab (the first, blank one stays: the browser lives on)
    quit

The microphone is Chromium's fake capture device playing the WAV given as argv[1]; argv[2] is
the directory the screenshots go to.
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

wav, shots = sys.argv[1], sys.argv[2]
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--use-file-for-fake-audio-capture=" + wav,
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,900",
):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
blank = driver.current_window_handle


def run(cmd, rest):
    if cmd == "open":
        driver.switch_to.new_window("tab")
        driver.get(rest)
        return driver.current_url
    if cmd == "eval":
        return driver.execute_script("return (" + rest + ");")
    if cmd == "wait":
        js, seconds = rest.rsplit(" ", 1)
        deadline = time.monotonic() + float(seconds)
        while True:
            if driver.execute_script("return !!(" + js + ");"):
                return True
            if time.monotonic() > deadline:
                raise TimeoutError("not within %s s: %s" % (seconds, js))
            time.sleep(0.05)
    if cmd == "click":
        driver.find_element(By.ID, rest).click()
        return True
    if cmd == "file":
        id, path = rest.split(" ", 1)
        driver.find_element(By.ID, id).send_keys(path)
        return True
    if cmd == "shot":
        name, width, height = rest.split()
        width, height = int(width), int(height)
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        path = os.path.join(shots, name + ".png")
        driver.save_screenshot(path)
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return path
    if cmd == "closetab":
        driver.close()
        driver.switch_to.window(blank)
        return True
    raise ValueError("unknown command " + cmd)


print(json.dumps({"ok": "ready"}), flush=True)
try:
    for line in sys.stdin:
        cmd, _, rest = line.rstrip("\n").partition(" ")
        if cmd == "quit":
            break
        try:
            answer = {"ok": run(cmd, rest)}
        except Exception as e:  # the test shows what went wrong, and decides
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(answer, default=str), flush=True)
finally:
    driver.quit()
