import { useEffect, useState } from 'preact/hooks';
import type { ChatModel, ChatView } from '../model/chat-model.js';

/** The model's current view, re-rendering the component on every change. */
export function useView(model: ChatModel): ChatView {
  const [view, setView] = useState(model.view);
  useEffect(() => {
    setView(model.view);
    return model.subscribe(() => {
      setView(model.view);
    });
  }, [model]);
  return view;
}
