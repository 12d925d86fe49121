import { useState } from 'preact/hooks';

/** Sign-in: paste a token (a link with `#token=…` skips this). */
export function SignIn(props: { problem: string | undefined; onToken: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <main class="sign-in">
      <h1>ChatCluster</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim() !== '') props.onToken(token.trim());
        }}
      >
        <label for="token">Token</label>
        <textarea id="token" rows={5} value={token} onInput={(event) => { setToken(event.currentTarget.value); }} placeholder="Paste a JWT (npm run -s chat -- token alice)" />
        <button type="submit">Sign in</button>
      </form>
      {props.problem !== undefined && <p role="alert" class="problem">{props.problem}</p>}
    </main>
  );
}
