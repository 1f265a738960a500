// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { Listeners } from '../../workers/listeners';

describe('Listeners', () => {
  it('delivers to every listener; drops one that throws or whose promise rejects (a closed page); remove works', async () => {
    const set = new Listeners<number>();
    const got: number[] = [];
    let throwingCalls = 0;
    let rejectingCalls = 0;
    set.add(() => {
      throwingCalls++;
      throw new Error('gone');
    });
    set.add(() => {
      rejectingCalls++;
      return Promise.reject(new Error('closed page')) as unknown as void;
    });
    const kept = set.add((e) => void got.push(e));
    set.emit(1);
    await new Promise((r) => setTimeout(r, 0)); // let the rejection land
    set.emit(2);
    expect(got).toEqual([1, 2]);
    expect([throwingCalls, rejectingCalls]).toEqual([1, 1]);
    set.remove(kept);
    set.emit(3);
    expect(got).toEqual([1, 2]);
  });
});
