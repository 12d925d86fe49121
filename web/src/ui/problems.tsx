import type { ChatModel, ChatView } from '../model/chat-model.js';

/** Errors in words, announced as they come; each can be dismissed. */
export function Problems(props: { view: ChatView; model: ChatModel }) {
  return (
    <div role="alert" class="problems">
      {props.view.problems.map((problem) => (
        <p key={problem.id} class="problem">
          <span>
            {problem.text}
            {problem.count > 1 && <span class="count"> (×{problem.count})</span>}
          </span>
          <button type="button" class="quiet" aria-label="Dismiss" onClick={() => { props.model.dismissProblem(problem.id); }}>
            ×
          </button>
        </p>
      ))}
    </div>
  );
}
