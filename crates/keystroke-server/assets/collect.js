// Keystroke Workbench's collection page: records key presses in the typing area with the
// events' own high-resolution timestamps (the performance.now() clock) and calls /train and
// /predict exactly as the mobile app does. No framework, no build step, nothing from elsewhere.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // Keys named as the workbench's live capture names them (spec/api.md's terms): a letter
  // typed with Shift is its capital, one key; Shift's own presses are not keys of the sample;
  // a digit or symbol typed with Shift keeps its own (unshifted) name.
  const UNSHIFTED = {
    Digit0: '0', Digit1: '1', Digit2: '2', Digit3: '3', Digit4: '4', Digit5: '5', Digit6: '6',
    Digit7: '7', Digit8: '8', Digit9: '9', Minus: '-', Equal: '=', BracketLeft: '[',
    BracketRight: ']', Backslash: '\\', Semicolon: ';', Quote: "'", Comma: ',', Period: '.',
    Slash: '/', Backquote: '`',
  };
  // Keys that end an attempt as a mistake: the participant types the phrase again.
  const MISTAKES = new Set([
    'Backspace', 'Delete', 'Escape', 'Tab', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown',
    'Home', 'End', 'PageUp', 'PageDown', 'Insert',
  ]);
  const MODIFIERS = new Set(['Control', 'Alt', 'Meta', 'AltGraph', 'OS', 'Fn', 'Hyper', 'Super']);
  // Ways text enters a field without being typed.
  const NOT_TYPED = new Set([
    'insertFromPaste', 'insertFromPasteAsQuotation', 'insertFromDrop', 'insertFromYank',
    'insertReplacementText', 'insertLink',
  ]);
  const EXPLAIN = {
    enrol: 'Type the phrase the same way each time. Each typing is one sample; the model is ' +
      'trained once you reach the goal.',
    verify: 'Type the phrase as the enrolled user: the server says whether the typing is theirs.',
    demo: 'Try to pass as the user: type their phrase and see whether the server is fooled. ' +
      'Attempts are labelled as impostor attempts.',
  };
  const USER_LABEL = { enrol: 'Participant id', verify: 'Your id', demo: 'Pass as user' };

  const page = {
    mode: 'enrol',
    codeRequired: false,
    goal: null,
    resolution: measureResolution(),
    browser: browserName(),
    attempts: 0,
    busy: false,
  };
  let attempt = newAttempt();

  function newAttempt() {
    return { presses: [], held: new Map(), soft: [], text: '', lowPrecision: false, ending: false };
  }

  // The smallest step performance.now() shows here (browsers coarsen it: 0.005-0.1 ms in
  // Chrome, 1 ms or more in Firefox with fingerprinting protection).
  function measureResolution() {
    let last = performance.now();
    const end = last + 30;
    let min = Infinity;
    for (;;) {
      const t = performance.now();
      if (t > last) {
        min = Math.min(min, t - last);
        last = t;
      }
      if (t >= end) break;
    }
    return Number.isFinite(min) ? Math.round(min * 1000) / 1000 : 1;
  }

  function browserName() {
    const ua = navigator.userAgent;
    const families = [
      [/Edg\/(\d+)/, 'Edge'], [/OPR\/(\d+)/, 'Opera'], [/Firefox\/(\d+)/, 'Firefox'],
      [/Chrome\/(\d+)/, 'Chrome'], [/Version\/(\d+)[^ ]* (Mobile\/\S+ )?Safari/, 'Safari'],
    ];
    for (const [pattern, name] of families) {
      const match = ua.match(pattern);
      if (match) return `${name} ${match[1]}`;
    }
    return 'other';
  }

  function keyName(event) {
    if (/^[A-Za-z]$/.test(event.key)) return event.key;
    if (event.shiftKey && UNSHIFTED[event.code]) return UNSHIFTED[event.code];
    return event.key;
  }

  function say(text) {
    $('message').textContent = text;
  }

  function setVerdict(text, kind) {
    const verdict = $('verdict');
    verdict.textContent = text;
    verdict.className = kind || '';
  }

  // Ends the attempt in progress without sending it, saying why (when one was in progress,
  // or always with `always`).
  function abandon(why, always = false) {
    if (always || attempt.presses.length || $('typing').value) {
      say(why);
    }
    attempt = newAttempt();
    $('typing').value = '';
  }

  function onKeyDown(event) {
    if (!event.isTrusted || page.busy) {
      event.preventDefault();
      return;
    }
    const t = event.timeStamp;
    if (event.key === 'Unidentified' || event.keyCode === 229) {
      // A soft keyboard that does not say which key: the input event that follows does.
      const press = { code: `soft${attempt.soft.length}`, key: null, down: t, up: null };
      attempt.soft.push(press);
      attempt.presses.push(press);
      attempt.lowPrecision = true;
      return;
    }
    if (event.key === 'Shift' || event.key === 'CapsLock' || MODIFIERS.has(event.key)) return;
    if (event.repeat) {
      // A key held until it repeats is not a typing of the phrase.
      event.preventDefault();
      abandon('A key was held down until it repeated: the attempt was discarded. Type it again.');
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      // Not prevented: a paste it starts is refused by its own event, with its own message.
      abandon('Shortcuts are not part of the phrase: the attempt was discarded. Type it again.');
      return;
    }
    if (MISTAKES.has(event.key)) {
      event.preventDefault();
      abandon('Mistake noted: the attempt was discarded. Type the whole phrase again.');
      return;
    }
    if (attempt.ending) {
      event.preventDefault();
      return;
    }
    if (event.key !== 'Enter' && event.key.length !== 1) {
      // F2, NumLock, volume keys, a dead key…: nothing a phrase is made of.
      event.preventDefault();
      abandon(`${event.key} is not part of a phrase: the attempt was discarded. Type it again.`);
      return;
    }
    if (event.key === 'Enter') event.preventDefault();
    const press = { code: event.code || event.key, key: keyName(event), down: t, up: null };
    if (attempt.held.has(press.code)) return;
    attempt.held.set(press.code, press);
    attempt.presses.push(press);
    if (event.key.length === 1) attempt.text += event.key;
  }

  function onKeyUp(event) {
    if (!event.isTrusted || page.busy) return;
    const t = event.timeStamp;
    if (event.key === 'Unidentified' || event.keyCode === 229) {
      const open = attempt.soft.filter((p) => p.up === null);
      if (open.length > 1) {
        // Touches released out of order cannot be told apart: their holds would be swapped.
        abandon('Two keys were held at once on a keyboard that does not name its keys: the ' +
          'attempt was discarded. Type it again, one key at a time.');
        return;
      }
      if (open.length === 1) open[0].up = t;
      return;
    }
    const press = attempt.held.get(event.code || event.key);
    if (!press) return;
    press.up = t;
    attempt.held.delete(press.code);
    if (press.key === 'Enter') attempt.ending = true;
    if (attempt.ending && attempt.held.size === 0) finish();
  }

  function onBeforeInput(event) {
    if (NOT_TYPED.has(event.inputType) || !event.isTrusted) {
      event.preventDefault();
      abandon('Paste, drop and autofill are refused: type the phrase key by key.', true);
      return;
    }
    if (event.inputType.startsWith('delete')) {
      abandon('Mistake noted: the attempt was discarded. Type the whole phrase again.');
      return;
    }
    if (event.inputType !== 'insertText' || !event.data) return;
    const waiting = attempt.soft.filter((p) => p.key === null);
    if (waiting.length === 0) return; // a key event already named it
    if (event.data.length > 1) {
      event.preventDefault();
      abandon('A word was inserted at once (prediction or autocomplete): turn it off and ' +
        'type the phrase key by key.');
      return;
    }
    waiting[0].key = event.data;
    attempt.text += event.data;
  }

  function phrase() {
    return $('phrase').value;
  }

  function finish() {
    const typed = attempt.text;
    const field = $('typing').value;
    const expected = phrase();
    const unnamed = attempt.presses.some((p) => p.key === null || p.up === null);
    const presses = attempt.presses;
    const lowPrecision = attempt.lowPrecision;
    attempt = newAttempt();
    $('typing').value = '';
    if (unnamed) {
      say('Some key presses could not be read: type the phrase again.');
      return;
    }
    if (field !== typed) {
      say('Text arrived without key presses (paste or autofill): type the phrase key by key.');
      return;
    }
    if (expected && typed !== expected) {
      say(`You typed "${typed}", the phrase is "${expected}": type it again.`);
      return;
    }
    const user = $('user').value.trim();
    if (!user) {
      say(`Enter the ${USER_LABEL[page.mode].toLowerCase()} first.`);
      return;
    }
    const origin = presses[0].down;
    const at = (t) => Math.round((t - origin) * 1000) / 1000;
    const events = [];
    for (const p of presses) {
      events.push({ key: p.key, event: 'down', timestamp: at(p.down) });
      events.push({ key: p.key, event: 'up', timestamp: at(p.up) });
    }
    const body = {
      user_id: user,
      keystroke_data: events,
      capture: {
        source: 'browser',
        browser: page.browser,
        timer_resolution_ms: page.resolution,
        precision: lowPrecision ? 'low' : 'high',
      },
    };
    if (page.mode === 'demo') body.attempt_label = 'impostor';
    if (page.mode === 'enrol' && page.codeRequired && !$('code').value.trim()) {
      say('This server needs an enrolment code: ask the researcher for one and enter it above.');
      return;
    }
    send(page.mode === 'enrol' ? '/train' : '/predict', body);
  }

  async function send(path, body) {
    page.busy = true;
    document.body.dataset.state = 'sending';
    const headers = { 'Content-Type': 'application/json' };
    const code = $('code').value.trim();
    if (path === '/train' && code) headers['X-Enrolment-Code'] = code;
    let status = 0;
    let reply = {};
    try {
      const response = await fetch(path, {
        method: 'POST', headers, body: JSON.stringify(body), credentials: 'omit',
      });
      status = response.status;
      reply = await response.json();
    } catch (error) {
      reply = { error: `the server could not be reached (${error.message})` };
    }
    page.busy = false;
    record(path, body.user_id, status, reply);
    document.body.dataset.state = 'ready';
    $('typing').focus();
  }

  function record(path, user, status, reply) {
    let result;
    let score = '';
    if (status !== 200) {
      result = `refused (${status || 'no answer'})`;
      setVerdict('', '');
      say(reply.error || `the server answered ${status}`);
    } else if (path === '/train') {
      result = `sample ${reply.samples_count}`;
      showProgress(reply.samples_count, reply.model_trained);
      const quality = reply.quality;
      say(quality && !quality.consistent
        ? `This sample is unlike your others (consistency ${quality.consistency.toFixed(2)}): ` +
          'keep typing at your usual pace.'
        : '');
      setVerdict(reply.model_trained ? 'Goal reached' : `Sample ${reply.samples_count} saved`,
        'accepted');
    } else {
      const accepted = reply.authenticated === true;
      score = Number(reply.confidence_score).toFixed(3);
      result = accepted ? 'accepted' : 'rejected';
      if (page.mode === 'demo') {
        setVerdict(accepted ? 'FOOLED IT: accepted' : 'CAUGHT: rejected',
          accepted ? 'accepted' : 'rejected');
      } else {
        setVerdict(accepted ? 'ACCEPTED' : 'REJECTED', accepted ? 'accepted' : 'rejected');
      }
      say(accepted ? '' : (reply.reason || ''));
    }
    page.attempts += 1;
    const row = document.createElement('tr');
    for (const cell of [page.attempts, page.mode, user, result, score]) {
      const td = document.createElement('td');
      td.textContent = String(cell);
      row.appendChild(td);
    }
    const body = $('attempts').tBodies[0];
    body.insertBefore(row, body.firstChild);
    $('attempts').dataset.count = String(page.attempts);
  }

  function showProgress(count, trained) {
    const goal = page.goal;
    if (page.mode !== 'enrol' || !goal) {
      $('progress').hidden = true;
      $('progress-text').textContent = '';
      return;
    }
    $('progress').hidden = false;
    $('progress-bar').style.width = `${Math.min(100, (100 * count) / goal)}%`;
    $('progress-text').textContent = trained || count >= goal
      ? `${count} samples: goal of ${goal} reached, the model is trained. More samples help.`
      : `${count} of ${goal} samples`;
  }

  async function loadUser() {
    const user = $('user').value.trim();
    if (!user) return;
    try {
      const response = await fetch(`/user/${encodeURIComponent(user)}/info`, { credentials: 'omit' });
      const info = await response.json();
      if (response.status !== 200) {
        say(info.error || '');
        return;
      }
      page.goal = info.min_samples_required;
      showProgress(info.training_samples, info.has_trained_model);
      if (page.mode !== 'enrol' && !info.has_trained_model) {
        say(`"${user}" has no trained model yet: enrol first.`);
      }
    } catch (error) {
      say(`the server could not be reached (${error.message})`);
    }
  }

  function setMode(mode) {
    page.mode = mode;
    for (const button of document.querySelectorAll('#modes button')) {
      button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
    }
    $('explain').textContent = EXPLAIN[mode];
    $('user-label').textContent = USER_LABEL[mode];
    $('code-row').hidden = !(page.codeRequired && mode === 'enrol');
    abandon('');
    setVerdict('', '');
    say('');
    loadUser();
  }

  async function start() {
    const query = new URLSearchParams(location.search);
    $('phrase').value = query.get('phrase') ?? '.tie5Roanl';
    $('user').value = query.get('user') ?? '';
    try {
      const health = await (await fetch('/health', { credentials: 'omit' })).json();
      page.codeRequired = health.enrolment_code_required === true;
    } catch (error) {
      say(`the server could not be reached (${error.message})`);
    }
    const typing = $('typing');
    typing.addEventListener('keydown', onKeyDown);
    typing.addEventListener('keyup', onKeyUp);
    typing.addEventListener('beforeinput', onBeforeInput);
    for (const type of ['paste', 'drop']) {
      typing.addEventListener(type, (event) => {
        event.preventDefault();
        abandon('Paste, drop and autofill are refused: type the phrase key by key.', true);
      });
    }
    typing.addEventListener('blur', () => {
      if (!page.busy) abandon('The typing area lost focus: the attempt was discarded.');
    });
    $('user').addEventListener('change', loadUser);
    for (const button of document.querySelectorAll('#modes button')) {
      button.addEventListener('click', () => setMode(button.dataset.mode));
    }
    $('about').textContent = `${page.browser}; timer resolution ${page.resolution} ms. ` +
      'Samples are stored with the browser and the resolution.';
    const mode = query.get('mode');
    setMode(EXPLAIN[mode] ? mode : 'enrol');
    document.body.dataset.state = 'ready';
  }

  start();
})();
