/**
 * The web client's entry: signs in with a token (from `#token=…` or pasted), then runs one
 * ChatConnection to this page's own node (same origin, `/ws?token=…`) and renders the model.
 */
import { render } from 'preact';
import { ChatConnection } from './connection/chat-connection.js';
import { openBrowserSocket, socketUrl, tokenAccepted } from './connection/browser-socket.js';
import { ChatModel, type ReadMarks } from './model/chat-model.js';
import { forgetToken, keepToken, takeToken, userOfToken } from './session/token.js';
import { App } from './ui/app.js';
import { SignIn } from './ui/sign-in.js';

const root = document.getElementById('app');
if (root === null) throw new Error('the page has no #app element');
const page = root;

function readMarks(user: string): ReadMarks {
  const key = `chatcluster.read.${user}`;
  return {
    load: () => {
      try {
        return JSON.parse(localStorage.getItem(key) ?? '{}') as Record<string, string>;
      } catch {
        return {};
      }
    },
    save: (marks) => {
      localStorage.setItem(key, JSON.stringify(marks));
    },
  };
}

function showSignIn(problem?: string): void {
  render(
    <SignIn
      problem={problem}
      onToken={(token) => {
        keepToken(sessionStorage, token);
        signIn(token);
      }}
    />,
    page,
  );
}

function signIn(token: string): void {
  const user = userOfToken(token);
  if (user === undefined) {
    forgetToken(sessionStorage);
    showSignIn('That is not a token with a user id (`sub`): paste a JWT the cluster signed.');
    return;
  }
  const connection = new ChatConnection({
    user,
    url: socketUrl(location, token),
    openSocket: openBrowserSocket,
    schedule: (callback, ms) => {
      const timer = setTimeout(callback, ms);
      return () => {
        clearTimeout(timer);
      };
    },
    random: Math.random,
    newIdem: () => crypto.randomUUID(),
    tokenAccepted: () => tokenAccepted(token),
    events: {
      state: (state) => {
        chat.onState(state);
        if (state.kind === 'signed-out') {
          forgetToken(sessionStorage);
          showSignIn(`Signed out: ${state.reason}`);
        }
      },
      messages: (messages) => { chat.onMessages(messages); },
      pending: (sends) => { chat.onPending(sends); },
      presence: (users) => { chat.onPresence(users); },
      typing: (from, conv) => { chat.onTyping(from, conv); },
      problem: (problem) => { chat.onProblem(problem); },
    },
  });
  // The events above reach `chat` only once the connection starts, below.
  const chat = new ChatModel(connection, user, readMarks(user));
  chat.pageVisible = () => document.visibilityState === 'visible';
  addEventListener('online', () => {
    connection.reconnectNow();
  });
  addEventListener('offline', () => {
    connection.networkLost();
  });
  document.addEventListener('visibilitychange', () => {
    chat.markActiveRead();
  });
  render(
    <App
      model={chat}
      onSignOut={() => {
        connection.stop();
        forgetToken(sessionStorage);
        showSignIn();
      }}
    />,
    page,
  );
  connection.start();
}

const token = takeToken(location, history, sessionStorage);
if (token === undefined) showSignIn();
else signIn(token);
