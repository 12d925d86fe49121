import { RequestError, type ChatConnection, type ConnectionState, type PendingSend, type ProblemReport } from '../connection/chat-connection.js';
import { conversationOf, targetOf } from '../connection/conversations.js';
import type { ChatMessage, PresenceStatus, Target } from '../connection/frames.js';
import { newestId, oldestFirst, withMessages, type Conversation } from './conversation-list.js';
import { describeProblem } from './problem-words.js';

const HISTORY_PAGE = 50;
const TYPING_SHOWN_MS = 4_000;
const TYPING_SENT_EVERY_MS = 2_000;
const PROBLEMS_SHOWN = 3;
/** A problem stays on screen this long after it last happened, unless dismissed first. */
const PROBLEM_SHOWN_MS = 20_000;

/** What the page renders; a new object after every change. */
export interface ChatView {
  me: string;
  connection: ConnectionState;
  conversations: ReadonlyMap<string, Conversation>;
  pending: readonly PendingSend[];
  groups: ReadonlySet<string>;
  presence: Readonly<Record<string, PresenceStatus>>;
  /** Who is typing in which conversation, until when (ms since epoch). */
  typing: ReadonlyMap<string, { from: string; until: number }>;
  readUpTo: Readonly<Record<string, string>>;
  active: string | undefined;
  members: { group: string; members: readonly string[] } | undefined;
  /** Problems to show, newest last; the same problem again counts up instead of stacking. */
  problems: readonly { id: number; text: string; count: number; at: number }[];
}

/** Where the read marks are kept between visits. */
export interface ReadMarks {
  load(): Record<string, string>;
  save(marks: Readonly<Record<string, string>>): void;
}

/**
 * The page's state and the user's actions, on top of one `ChatConnection`: conversations
 * and their messages (merged by id), sends in flight, groups, presence, typing, unread
 * marks and the problems to show.
 */
export class ChatModel {
  private current: ChatView;
  private readonly listeners = new Set<() => void>();
  private lastTypingSent = 0;
  private nextProblem = 0;

  constructor(
    private readonly connection: ChatConnection,
    me: string,
    private readonly marks: ReadMarks,
    private readonly now: () => number = Date.now,
  ) {
    this.current = {
      me,
      connection: connection.state,
      conversations: new Map(),
      pending: [],
      groups: new Set(),
      presence: {},
      typing: new Map(),
      readUpTo: marks.load(),
      active: undefined,
      members: undefined,
      problems: [],
    };
  }

  get view(): ChatView {
    return this.current;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Connection events -------------------------------------------------------------------

  onState(state: ConnectionState): void {
    const wasOnline = this.current.connection.kind === 'online';
    this.update({ connection: state });
    if (state.kind === 'online' && !wasOnline) void this.refreshGroups();
  }

  onMessages(messages: readonly ChatMessage[]): void {
    const conversations = new Map(this.current.conversations);
    for (const message of messages) {
      conversations.set(message.conv, withMessages(this.conversation(message.conv, conversations), [message]));
    }
    const typing = new Map(this.current.typing);
    for (const message of messages) if (typing.get(message.conv)?.from === message.from) typing.delete(message.conv);
    this.update({ conversations, typing });
    this.markActiveRead();
    this.watchPeopleInView();
  }

  onPending(pending: readonly PendingSend[]): void {
    this.update({ pending });
  }

  onPresence(users: Readonly<Record<string, PresenceStatus>>): void {
    this.update({ presence: { ...this.current.presence, ...users } });
  }

  onTyping(from: string, conv: string): void {
    if (from === this.current.me) return;
    const typing = new Map(this.current.typing);
    typing.set(conv, { from, until: this.now() + TYPING_SHOWN_MS });
    this.update({ typing });
  }

  onProblem(problem: ProblemReport): void {
    const text = describeProblem(problem);
    const last = this.current.problems.at(-1);
    const problems =
      last?.text === text
        ? [...this.current.problems.slice(0, -1), { ...last, count: last.count + 1, at: this.now() }]
        : [...this.current.problems, { id: ++this.nextProblem, text, count: 1, at: this.now() }].slice(-PROBLEMS_SHOWN);
    this.update({ problems });
  }

  // User actions ------------------------------------------------------------------------

  /** Opens a conversation, loading its latest history the first time. */
  open(conv: string): void {
    const conversations = new Map(this.current.conversations);
    const conversation = this.conversation(conv, conversations);
    conversations.set(conv, conversation);
    this.update({ active: conv, conversations, members: undefined });
    this.markActiveRead();
    this.watchPeopleInView();
    if (conversation.olderRemain === undefined) void this.loadHistory(conv, undefined);
  }

  /** Opens the direct conversation with `user`. */
  openDirect(user: string): void {
    this.open(conversationOf(this.current.me, { user }));
  }

  /** Loads the page of history before the oldest message held. */
  loadOlder(conv: string): void {
    const conversation = this.current.conversations.get(conv);
    const oldest = conversation === undefined ? undefined : oldestFirst(conversation)[0];
    void this.loadHistory(conv, oldest?.id);
  }

  send(text: string): void {
    const target = this.activeTarget();
    if (target === undefined || text === '') return;
    this.connection.send(target, text);
  }

  retry(idem: string): void {
    this.connection.retry(idem);
  }

  discard(idem: string): void {
    this.connection.discard(idem);
  }

  /** Called on each keystroke in the composer; the node hears of it at most every 2 s. */
  typed(): void {
    const target = this.activeTarget();
    if (target === undefined || this.now() - this.lastTypingSent < TYPING_SENT_EVERY_MS) return;
    this.lastTypingSent = this.now();
    this.connection.typing(target);
  }

  async createGroup(name: string): Promise<void> {
    if (await this.ask({ type: 'group.create', name })) this.joined(name);
  }

  async joinGroup(name: string): Promise<void> {
    if (await this.ask({ type: 'group.join', group: name })) this.joined(name);
  }

  async leaveGroup(name: string): Promise<void> {
    if (!(await this.ask({ type: 'group.leave', group: name }))) return;
    const groups = new Set(this.current.groups);
    groups.delete(name);
    const conversations = new Map(this.current.conversations);
    conversations.delete(`g:${name}`);
    const active = this.current.active === `g:${name}` ? undefined : this.current.active;
    this.update({ groups, conversations, active, members: undefined });
  }

  async showMembers(group: string): Promise<void> {
    try {
      const reply = await this.connection.request({ type: 'group.members', group });
      if (reply.type === 'members') {
        this.update({ members: { group, members: reply.members } });
        this.watchPeopleInView();
      }
    } catch (error) {
      this.onProblem(asProblem(error));
    }
  }

  hideMembers(): void {
    this.update({ members: undefined });
  }

  /** Marks the open conversation read up to its newest message (the page is on screen). */
  markActiveRead(): void {
    const active = this.current.active;
    const conversation = active === undefined ? undefined : this.current.conversations.get(active);
    if (active === undefined || conversation === undefined || !this.pageVisible()) return;
    const newest = newestId(conversation);
    const marked = this.current.readUpTo[active];
    if (newest === undefined || (marked !== undefined && marked >= newest)) return;
    const readUpTo = { ...this.current.readUpTo, [active]: newest };
    this.marks.save(readUpTo);
    this.update({ readUpTo });
  }

  /** Drops typing indicators and problems whose time ran out; the page calls it every second. */
  expire(): void {
    const now = this.now();
    const typing = new Map([...this.current.typing].filter(([, entry]) => entry.until > now));
    const problems = this.current.problems.filter((problem) => now - problem.at < PROBLEM_SHOWN_MS);
    if (typing.size !== this.current.typing.size || problems.length !== this.current.problems.length) this.update({ typing, problems });
  }

  dismissProblem(id: number): void {
    this.update({ problems: this.current.problems.filter((problem) => problem.id !== id) });
  }

  /** Whether the page is visible; replaced by the page (document.visibilityState). */
  pageVisible: () => boolean = () => true;

  // Internals ---------------------------------------------------------------------------

  private activeTarget(): Target | undefined {
    const active = this.current.active;
    return active === undefined ? undefined : targetOf(this.current.me, active);
  }

  private async refreshGroups(): Promise<void> {
    try {
      const reply = await this.connection.request({ type: 'groups' });
      if (reply.type !== 'groups') return;
      const conversations = new Map(this.current.conversations);
      for (const name of reply.groups) conversations.set(`g:${name}`, this.conversation(`g:${name}`, conversations));
      this.update({ groups: new Set(reply.groups), conversations });
    } catch (error) {
      // A lost connection retries on the next `online`; anything else is worth saying.
      if (!(error instanceof RequestError && error.code === 'connection')) this.onProblem(asProblem(error));
    }
  }

  private async loadHistory(conv: string, before: string | undefined): Promise<void> {
    const target = targetOf(this.current.me, conv);
    if (target === undefined) return;
    try {
      const reply = await this.connection.request({ type: 'history', conv: target, limit: HISTORY_PAGE, ...(before === undefined ? {} : { before }) });
      if (reply.type !== 'history') return;
      const conversations = new Map(this.current.conversations);
      const merged = withMessages(this.conversation(conv, conversations), reply.messages);
      conversations.set(conv, { ...merged, olderRemain: reply.more });
      this.update({ conversations });
      this.markActiveRead();
    } catch (error) {
      this.onProblem(asProblem(error));
    }
  }

  private joined(name: string): void {
    const groups = new Set(this.current.groups);
    groups.add(name);
    this.update({ groups });
    this.open(`g:${name}`);
  }

  private async ask(frame: { type: 'group.create'; name: string } | { type: 'group.join' | 'group.leave'; group: string }): Promise<boolean> {
    try {
      await this.connection.request(frame);
      return true;
    } catch (error) {
      this.onProblem(asProblem(error));
      return false;
    }
  }

  /** Presence is watched for the people in view: direct partners and the shown group's members. */
  private watchPeopleInView(): void {
    const people = new Set<string>();
    for (const conv of this.current.conversations.keys()) {
      const target = targetOf(this.current.me, conv);
      if (target !== undefined && 'user' in target) people.add(target.user);
    }
    for (const member of this.current.members?.members ?? []) if (member !== this.current.me) people.add(member);
    this.connection.watchPresence([...people]);
  }

  private conversation(conv: string, conversations: ReadonlyMap<string, Conversation>): Conversation {
    return conversations.get(conv) ?? { conv, messages: new Map(), olderRemain: undefined };
  }

  private update(change: Partial<ChatView>): void {
    this.current = { ...this.current, ...change };
    for (const listener of this.listeners) listener();
  }
}

function asProblem(error: unknown): ProblemReport {
  if (error instanceof RequestError) return { code: error.code, message: error.message };
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}
