// The incident room, live: new messages appear without a reload, and sending stays on
// the page. Without this file the room still works, one reload at a time.
(() => {
  "use strict";

  const POLL_VISIBLE_MS = 2000;
  const POLL_HIDDEN_MS = 15000;

  const room = document.querySelector(".room");
  if (!room) return;
  const list = room.querySelector("#room-messages");
  const empty = room.querySelector(".room-empty");
  const form = room.querySelector("form.room-say");
  const api = `/api/v1/incidents/${encodeURIComponent(room.dataset.key)}/room/messages`;
  const csrf = room.querySelector("input[name=csrf_token]")?.value || "";
  const clockIn = (timeZone) =>
    new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone });
  let clock;
  try {
    clock = clockIn(room.dataset.zone || undefined);
  } catch {
    clock = clockIn(undefined); // a zone the browser does not know ("Factory"): its own
  }
  const me = Number(room.dataset.me);

  const lastId = () => {
    const ids = [...list.children].map((li) => Number(li.dataset.id));
    return ids.length ? Math.max(...ids) : 0;
  };

  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;

  const keepForm = (message) => {
    const keep = document.createElement("form");
    keep.method = "post";
    keep.className = "keep-form";
    keep.action = `/incidents/${room.dataset.key}/room/messages/${message.id}/timeline`;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = csrf;
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "link small";
    button.title = "Copy this message to the incident timeline";
    button.textContent = "Add to timeline";
    keep.append(token, button);
    return keep;
  };

  // Built with textContent only: what people type is never read as HTML.
  const render = (message) => {
    const li = document.createElement("li");
    li.className = "message";
    li.id = `message-${message.id}`;
    li.dataset.id = String(message.id);
    const who = message.author ? message.author.name : "Someone";
    if (message.author?.id === me) li.classList.add("mine");
    const head = document.createElement("div");
    head.className = "message-head";
    const name = document.createElement("span");
    name.className = "message-who";
    name.textContent = who;
    const time = document.createElement("time");
    time.dateTime = message.posted_at;
    time.textContent = clock.format(new Date(message.posted_at));
    head.append(name, time);
    if (room.dataset.canTalk === "yes") head.append(keepForm(message));
    const body = document.createElement("p");
    body.className = "message-body";
    body.textContent = message.body;
    li.append(head, body);
    return li;
  };

  const add = (messages) => {
    const follow = nearBottom();
    let added = false;
    for (const message of messages) {
      if (document.getElementById(`message-${message.id}`)) continue;
      const li = render(message);
      // A late commit can bring a lower id: keep the list in id order.
      const after = [...list.children].find((other) => Number(other.dataset.id) > message.id);
      list.insertBefore(li, after || null);
      added = true;
    }
    if (added) {
      if (empty) empty.hidden = true;
      if (follow) window.scrollTo({ top: document.body.scrollHeight });
    }
  };

  let timer = null;
  const poll = async () => {
    clearTimeout(timer);
    try {
      const response = await fetch(`${api}?after=${lastId()}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) add(await response.json());
    } finally {
      timer = setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_VISIBLE_MS);
    }
  };

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });

  if (form) {
    const area = form.querySelector("textarea");
    const error = form.querySelector(".room-error");
    const button = form.querySelector("button[type=submit]");
    const coarse = window.matchMedia("(pointer: coarse)").matches;

    // Enter sends, Shift+Enter starts a new line (on a phone, the Send button sends).
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !coarse && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      if (!area.value.trim()) {
        error.textContent = "Write something first.";
        error.hidden = false;
        area.focus();
        return;
      }
      button.disabled = true;
      error.hidden = true;
      try {
        const response = await fetch(api, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRF-Token": csrf,
          },
          body: JSON.stringify({ body: area.value }),
        });
        const answer = await response.json().catch(() => null);
        if (response.ok && answer) {
          area.value = "";
          add([answer]);
          window.scrollTo({ top: document.body.scrollHeight });
        } else {
          error.textContent =
            answer?.error?.message || "The message was not sent. Try again.";
          error.hidden = false;
        }
      } catch {
        error.textContent = "No connection: the message was not sent. Try again.";
        error.hidden = false;
      } finally {
        button.disabled = false;
        area.focus();
      }
    });
  }

  window.scrollTo({ top: document.body.scrollHeight });
  timer = setTimeout(poll, POLL_VISIBLE_MS);
})();
