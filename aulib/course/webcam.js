// The browser side of aulib's live webcam (aulib/course/webcam.py), an anywidget ES module.
//
// The browser reads the camera, encodes a frame as JPEG and sends it to the kernel; the kernel answers with the
// frame's AU intensities and the frame with the maps drawn on it. At most two frames are in flight, and the next
// one leaves when an answer arrives, never on a timer (messages would pile up in the kernel). Frames live only in
// memory, here and in the kernel.

const MAX_IN_FLIGHT = 2;
const WINDOW_MS = 3000; // the frame rate and latency are measured over the last three seconds

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function base64ToBytes(url) {
  const binary = atob(url.slice(url.indexOf(",") + 1));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function median(values) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function render({ model, el }) {
  const labels = model.get("labels");
  const colours = model.get("colours");
  const width = model.get("width");
  const height = model.get("height");

  el.classList.add("aulib-webcam");
  const view = element("div", "aulib-webcam-view");
  const picture = element("img", "aulib-webcam-overlay");
  picture.alt = "the camera frame with each AU's heatmap drawn in its colour";
  picture.width = width;
  picture.height = height;
  view.appendChild(picture);
  const side = element("div", "aulib-webcam-side");
  const bars = labels.map((label, k) => {
    const row = element("div", "aulib-webcam-bar");
    row.dataset.au = label;
    row.dataset.value = "";
    const name = element("span", "aulib-webcam-label", label);
    const track = element("span", "aulib-webcam-track");
    const fill = element("span", "aulib-webcam-fill");
    fill.style.background = `rgb(${colours[k].join(",")})`;
    fill.style.width = "0%";
    track.appendChild(fill);
    const value = element("span", "aulib-webcam-value", "–");
    row.append(name, track, value);
    side.appendChild(row);
    return { row, fill, value };
  });
  const stats = element("div", "aulib-webcam-stats", "not started");
  const buttons = element("div", "aulib-webcam-buttons");
  const cameraButton = element("button", "aulib-webcam-start", "Start camera");
  const videoButton = element("button", "aulib-webcam-video", "Play the video instead");
  const stopButton = element("button", "aulib-webcam-stop", "Stop");
  buttons.append(cameraButton, videoButton, stopButton);
  const message = element("div", "aulib-webcam-message");
  side.append(stats, buttons, message);
  el.append(view, side);

  const video = element("video");
  video.muted = true;
  video.playsInline = true;
  const canvas = element("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");

  let stream = null;
  let capture = null;
  let running = false;
  let inFlight = 0;
  let nextId = 0;
  const sentAt = new Map();
  const arrivals = [];
  const latencies = [];
  let shownUrl = null;
  el.dataset.frames = "0";
  el.dataset.face = "";

  function say(text) {
    message.textContent = text;
  }

  async function grab() {
    // ImageCapture.grabFrame keeps delivering frames when the cell is scrolled out of view (drawing the <video>
    // then gives black frames); Firefox and Safari have no ImageCapture, so they draw the <video>.
    let source = video;
    if (capture) {
      try {
        source = await capture.grabFrame();
      } catch (error) {
        source = video;
      }
    }
    context.drawImage(source, 0, 0, width, height);
    if (source !== video && source.close) source.close();
    return base64ToBytes(canvas.toDataURL("image/jpeg", 0.8)); // toDataURL: 5–8 ms; toBlob took 50 ms
  }

  async function pump() {
    while (running && inFlight < MAX_IN_FLIGHT) {
      inFlight += 1;
      let bytes;
      try {
        bytes = await grab();
      } catch (error) {
        inFlight -= 1;
        say(`could not read a camera frame: ${error}`);
        return;
      }
      if (!running) {
        inFlight -= 1;
        return;
      }
      const id = ++nextId;
      sentAt.set(id, performance.now());
      model.send({ type: "frame", id, width, height }, undefined, [bytes.buffer]);
    }
  }

  function showResult(content, buffers) {
    const now = performance.now();
    if (content.id !== null && content.id !== undefined && sentAt.has(content.id)) {
      latencies.push([now, now - sentAt.get(content.id)]);
      sentAt.delete(content.id);
    }
    arrivals.push(now);
    while (arrivals.length && now - arrivals[0] > WINDOW_MS) arrivals.shift();
    while (latencies.length && now - latencies[0][0] > WINDOW_MS) latencies.shift();
    if (buffers && buffers.length) {
      const url = URL.createObjectURL(new Blob([buffers[0]], { type: "image/jpeg" }));
      picture.src = url;
      if (shownUrl) URL.revokeObjectURL(shownUrl);
      shownUrl = url;
    }
    const values = content.intensities;
    bars.forEach((bar, k) => {
      const value = values ? values[k] : null;
      bar.fill.style.width = value === null ? "0%" : `${(100 * value) / 5}%`;
      bar.value.textContent = value === null ? "–" : value.toFixed(1);
      bar.row.dataset.value = value === null ? "" : String(value);
    });
    const fps = arrivals.length > 1 ? (1000 * (arrivals.length - 1)) / (arrivals[arrivals.length - 1] - arrivals[0]) : NaN;
    const latency = median(latencies.map((pair) => pair[1]));
    el.dataset.frames = String(Number(el.dataset.frames) + 1);
    el.dataset.face = values ? "yes" : "no";
    el.dataset.fps = Number.isFinite(fps) ? fps.toFixed(2) : "";
    el.dataset.latency = Number.isFinite(latency) ? latency.toFixed(1) : "";
    const parts = [Number.isFinite(fps) ? `${fps.toFixed(1)} frames/s` : "frames/s: –"];
    if (Number.isFinite(latency)) parts.push(`latency ${latency.toFixed(0)} ms`);
    parts.push(`kernel ${(1000 * content.seconds).toFixed(0)} ms/frame`);
    if (!values) parts.push("no face");
    stats.textContent = parts.join(" · ");
  }

  model.on("msg:custom", (content, buffers) => {
    if (content.type === "result") {
      if (content.id !== null && content.id !== undefined) inFlight = Math.max(0, inFlight - 1);
      if (content.error) say(`a frame was not read: ${content.error}`);
      showResult(content, buffers);
      if (running) pump();
    } else if (content.type === "done") {
      say(content.text || "");
    }
  });

  async function startCamera() {
    if (running) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say(
        "This page cannot use a camera: navigator.mediaDevices is missing. Browsers allow cameras only on a secure " +
          "page: JupyterLab on localhost, or over https (a remote JupyterHub needs https). Play the video instead."
      );
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width, height }, audio: false });
    } catch (error) {
      say(`no camera: ${error.name}: ${error.message}. Play the video instead.`);
      return;
    }
    const track = stream.getVideoTracks()[0];
    capture = "ImageCapture" in window ? new ImageCapture(track) : null;
    video.srcObject = stream;
    await video.play();
    say("Frames go to the kernel and are never stored. On a remote JupyterHub they travel to the server.");
    // a new stream: the kernel detects the face afresh, and no answer of an earlier stream is awaited
    model.send({ type: "start" });
    inFlight = 0;
    sentAt.clear();
    running = true;
    pump();
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    capture = null;
  }

  cameraButton.addEventListener("click", startCamera);
  stopButton.addEventListener("click", () => {
    stop();
    model.send({ type: "stop" });
  });
  videoButton.addEventListener("click", () => {
    stop();
    model.send({ type: "play" });
  });
  if (model.get("autostart")) startCamera();
  return () => stop();
}

export default { render };
