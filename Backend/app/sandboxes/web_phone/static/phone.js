// PayTrace's web phone: a development tool. Each phone on screen speaks Africa's
// Talking's USSD protocol to this PayTrace: one form POST to /ussd per hop with
// sessionId, serviceCode, phoneNumber, networkCode and the cumulative text (the inputs
// so far joined by '*'), and a new sessionId for every dial. Its SMS come from the AT
// sandbox's outbox (GET /sandbox/sms?to=). Everything shown from a server or an SMS is
// set as text, never as HTML.
(function () {
  "use strict";
  var STORE = "paytrace.webphone.numbers";
  var NETWORK_CODE = "63902"; // Safaricom Kenya, as AT sends it
  var POLL_MS = 1000;
  var config = { service_codes: ["*384*123#"], screen_max: 182, gsm7: "", sms_sandbox: true };
  var phones = [];

  function normalised(raw) {
    // A '+' in a query string arrives as a space; local numbers are left to PayTrace.
    var digits = String(raw).replace(/[\s-]/g, "");
    return digits.charAt(0) === "0" || digits.charAt(0) === "+" ? digits : "+" + digits;
  }

  function sessionId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "ATUid_" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function saved() {
    var asked = new URLSearchParams(location.search).get("phones");
    if (asked) { return asked.split(",").map(normalised).filter(Boolean); }
    try {
      var kept = JSON.parse(localStorage.getItem(STORE) || "null");
      if (Array.isArray(kept) && kept.length) { return kept; }
    } catch (ignored) { /* a broken store starts afresh */ }
    return ["+254711000001", "+254711000002"];
  }

  function remember() {
    localStorage.setItem(STORE, JSON.stringify(phones.map(function (p) { return p.number; })));
  }

  function token() {
    var field = document.querySelector("#add-phone input[name=token]");
    return field ? field.value.trim() : "";
  }

  function Phone(number) {
    var node = document.getElementById("phone-template").content.firstElementChild.cloneNode(true);
    this.number = number;
    this.node = node;
    this.session = null;   // {id, inputs} while a session is open
    this.generation = 0;   // bumps on every dial, hang-up and drop: late answers are ignored
    this.seen = "";
    node.dataset.phone = number;
    node.dataset.state = "idle";
    this.part("number").textContent = number;
    this.part("code").value = config.service_codes[0];
    var self = this;
    this.part("dial").addEventListener("click", function () { self.dial(); });
    this.part("hangup").addEventListener("click", function () { self.end("Session ended."); });
    this.part("drop").addEventListener("click", function () {
      self.end("Connection problem or invalid MMI code.", "dropped");
    });
    this.part("keys").addEventListener("submit", function (event) {
      event.preventDefault();
      self.reply();
    });
    this.part("remove").addEventListener("click", function () { self.remove(); });
    this.part("mpesa-field").hidden = !config.mpesa_prompts;
    this.part("mpesa").addEventListener("change", function () { self.answerMpesa(); });
    this.prompt = null;    // the M-Pesa prompt on screen: {checkout_request_id, ...}
    this.part("stk").addEventListener("submit", function (event) {
      event.preventDefault();
      self.answerPrompt("accept");
    });
    this.part("stk-cancel").addEventListener("click", function () { self.answerPrompt("cancel"); });
    this.show("", "idle");
  }

  Phone.prototype.part = function (role) {
    return this.node.querySelector("[data-role=" + role + "]");
  };

  Phone.prototype.show = function (text, state) {
    var screen = this.part("screen");
    screen.textContent = text;
    screen.classList.toggle("ended", state !== "open");
    this.node.dataset.state = state;
    var budget = this.part("budget");
    var gsm = this.part("gsm7");
    if (!text || state === "dropped" || state === "idle") {
      budget.textContent = "";
      gsm.textContent = "";
      return;
    }
    budget.textContent = text.length + "/" + config.screen_max + " characters";
    budget.classList.toggle("over", text.length > config.screen_max);
    var outside = config.gsm7 ? Array.from(text).filter(function (ch) {
      return config.gsm7.indexOf(ch) < 0;
    }) : [];
    gsm.textContent = outside.length ? "not GSM-7: " + outside.join("") : "GSM-7";
    gsm.classList.toggle("bad", outside.length > 0);
  };

  Phone.prototype.dial = function () {
    this.generation += 1;
    this.session = { id: sessionId(), inputs: [], code: this.part("code").value.trim() };
    this.show("Dialling " + this.session.code + "...", "open");
    this.hop();
  };

  Phone.prototype.reply = function () {
    var input = this.part("input");
    if (!this.session) { return; }
    this.session.inputs.push(input.value.trim());
    input.value = "";
    this.hop();
  };

  Phone.prototype.end = function (text, state) {
    this.generation += 1;
    this.session = null;
    this.show(text, state || "ended");
  };

  Phone.prototype.hop = function () {
    var self = this;
    var generation = this.generation;
    var form = new URLSearchParams({
      sessionId: this.session.id,
      serviceCode: this.session.code,
      phoneNumber: this.number,
      networkCode: NETWORK_CODE,
      text: this.session.inputs.join("*")
    });
    var headers = { "Content-Type": "application/x-www-form-urlencoded" };
    if (token()) { headers.Authorization = "Bearer " + token(); }
    this.node.dataset.busy = "yes";
    fetch("/ussd", { method: "POST", headers: headers, body: form.toString() })
      .then(function (answer) {
        return answer.text().then(function (body) { return { status: answer.status, body: body }; });
      })
      .then(function (answer) {
        if (generation !== self.generation) { return; } // dropped or hung up meanwhile
        if (answer.status !== 200) {
          self.end("PayTrace answered HTTP " + answer.status + ": " + answer.body);
        } else if (answer.body.indexOf("CON ") === 0) {
          self.show(answer.body, "open");
          self.part("input").focus();
        } else {
          self.session = null;
          self.show(answer.body, "ended");
        }
      })
      .catch(function (error) {
        if (generation === self.generation) { self.end("No answer: " + error.message); }
      })
      .finally(function () { delete self.node.dataset.busy; });
  };

  // How this phone answers M-Pesa's STK prompts: a rule for its number in the local
  // Daraja sandbox, set through PayTrace (the page talks to its own origin only).
  Phone.prototype.answerMpesa = function () {
    var self = this;
    var answer = this.part("mpesa").value;
    delete this.node.dataset.mpesa;
    fetch("/sandbox/phone/mpesa", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ phone: this.number, answer: answer })
    })
      .then(function (reply) {
        if (reply.ok) { self.node.dataset.mpesa = answer; return; }
        self.part("mpesa-field").title = "The Daraja sandbox did not take it (HTTP " + reply.status + ")";
      })
      .catch(function () { self.part("mpesa-field").title = "PayTrace did not answer"; });
  };

  // M-Pesa's STK prompt, as the phone shows it when the push arrives (the Daraja
  // sandbox's "ask" rule): polled from the sandbox through PayTrace; not answering
  // lets it time out there (1037), and it leaves the screen.
  Phone.prototype.pollPrompts = function () {
    var self = this;
    if (!config.mpesa_prompts || this.answering) { return; }
    fetch("/sandbox/phone/mpesa/prompts?phone=" + encodeURIComponent(this.number))
      .then(function (answer) { return answer.ok ? answer.json() : { prompts: [] }; })
      .then(function (found) { self.showPrompt((found.prompts || [])[0] || null); })
      .catch(function () { /* the next poll tries again */ });
  };

  Phone.prototype.showPrompt = function (prompt) {
    var form = this.part("stk");
    var same = prompt && this.prompt &&
      prompt.checkout_request_id === this.prompt.checkout_request_id;
    if (same || (!prompt && !this.prompt)) { return; }
    this.prompt = prompt;
    if (!prompt) {
      form.hidden = true;
      this.node.dataset.prompt = "gone";
      return;
    }
    this.part("stk-text").textContent = "Do you want to pay KES " +
      prompt.amount.toLocaleString("en-KE") + " to " + prompt.business +
      " account no. " + prompt.account_reference + "? Enter M-PESA PIN:";
    this.part("stk-pin").value = "";
    form.hidden = false;
    this.node.dataset.prompt = "shown";
    this.part("stk-pin").focus();
  };

  Phone.prototype.answerPrompt = function (answer) {
    var self = this;
    var prompt = this.prompt;
    if (!prompt || this.answering) { return; }
    var body = { answer: answer };
    if (answer === "accept") { body.pin = this.part("stk-pin").value.trim(); }
    this.answering = true;
    fetch("/sandbox/phone/mpesa/prompts/" + encodeURIComponent(prompt.checkout_request_id), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    })
      .then(function (reply) { return reply.json().then(function (b) { return { ok: reply.ok, body: b }; }); })
      .then(function (reply) {
        if (!reply.ok && reply.body.error === "invalid_answer") {
          self.part("stk-text").textContent = reply.body.detail + ". Enter M-PESA PIN:";
          return;
        }
        self.part("stk").hidden = true;
        self.prompt = null;
        self.node.dataset.prompt = reply.ok ? reply.body.result : "gone";
      })
      .catch(function () { /* still on screen: answer again */ })
      .finally(function () { self.answering = false; });
  };

  Phone.prototype.poll = function () {
    var self = this;
    this.pollPrompts();
    if (!config.sms_sandbox) { return; }
    fetch("/sandbox/sms?to=" + encodeURIComponent(this.number))
      .then(function (answer) { return answer.ok ? answer.json() : []; })
      .then(function (messages) { self.inbox(messages); })
      .catch(function () { /* PayTrace restarting: the next poll tries again */ });
  };

  Phone.prototype.inbox = function (messages) {
    var fingerprint = messages.map(function (m) { return m.id + m.status; }).join();
    if (fingerprint === this.seen) { return; }
    this.seen = fingerprint;
    var list = this.part("inbox");
    list.textContent = "";
    messages.slice().reverse().forEach(function (message) {
      var item = document.createElement("li");
      item.dataset.status = message.status;
      var meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = message.created_at.slice(11, 19) + " from " + message.from +
        " · " + message.status;
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = message.message;
      item.appendChild(meta);
      item.appendChild(text);
      list.appendChild(item);
    });
  };

  Phone.prototype.remove = function () {
    this.generation += 1;
    this.node.remove();
    var self = this;
    phones = phones.filter(function (p) { return p !== self; });
    remember();
  };

  function add(number) {
    if (phones.some(function (p) { return p.number === number; })) { return; }
    var phone = new Phone(number);
    phones.push(phone);
    document.getElementById("phones").appendChild(phone.node);
    phone.poll();
  }

  function start() {
    saved().forEach(add);
    remember();
    document.getElementById("add-phone").addEventListener("submit", function (event) {
      event.preventDefault();
      var field = event.target.elements.number;
      add(normalised(field.value));
      remember();
      field.value = "";
    });
    if (config.token_required) { document.getElementById("token-field").hidden = false; }
    if (!config.sms_sandbox) {
      phones.forEach(function (p) { p.part("inbox").textContent = "No AT sandbox: SMS go to AT."; });
    }
    setInterval(function () { phones.forEach(function (p) { p.poll(); }); }, POLL_MS);
    document.body.dataset.ready = "yes";
  }

  fetch("/sandbox/phone/config.json")
    .then(function (answer) { return answer.json(); })
    .then(function (given) { config = given; })
    .catch(function () { /* the defaults above */ })
    .finally(start);
})();
