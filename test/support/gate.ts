/** Where a test holds code until it says so: `passed` resolves once `open()` is called. */
export class Gate {
  readonly passed: Promise<void>;
  open: () => void = () => undefined;

  constructor() {
    // The executor runs at once, so `open` is the promise's resolve before the constructor returns.
    this.passed = new Promise<void>((resolve) => {
      this.open = resolve;
    });
  }
}
