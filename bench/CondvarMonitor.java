import java.util.concurrent.*;
/*
 * A fixed thread pool of 4 (TASKS small tasks), then a synchronized /
 * wait / notifyAll bounded buffer of 64 between one producer and one
 * consumer (ITEMS): the JVM's monitors and its pool's parking sit on
 * pthread mutexes and condvars.
 *   javac -d DIR bench/CondvarMonitor.java; java -cp DIR CondvarMonitor TASKS ITEMS
 * Prints two sums, the same under any library.
 */
public class CondvarMonitor {
    static final int CAP = 64;
    static final long[] buf = new long[CAP];
    static int head, count;
    static synchronized void put(long v) throws InterruptedException {
        while (count == CAP) CondvarMonitor.class.wait();
        buf[(head + count++) % CAP] = v;
        CondvarMonitor.class.notifyAll();
    }
    static synchronized long take() throws InterruptedException {
        while (count == 0) CondvarMonitor.class.wait();
        long v = buf[head]; head = (head + 1) % CAP; count--;
        CondvarMonitor.class.notifyAll();
        return v;
    }
    public static void main(String[] a) throws Exception {
        int tasks = Integer.parseInt(a[0]), items = Integer.parseInt(a[1]);
        ExecutorService ex = Executors.newFixedThreadPool(4);
        long sum = 0;
        java.util.List<Future<Long>> fs = new java.util.ArrayList<>();
        for (int i = 0; i < tasks; i++) { final int k = i; fs.add(ex.submit(() -> (long) k * 3)); }
        for (Future<Long> f : fs) sum += f.get();
        Thread p = new Thread(() -> { try { for (int i = 0; i < items; i++) put(i); put(-1); } catch (InterruptedException e) {} });
        final long[] got = new long[1];
        Thread c = new Thread(() -> { try { long s = 0, v; while ((v = take()) >= 0) s += v; got[0] = s; } catch (InterruptedException e) {} });
        p.start(); c.start(); p.join(); c.join();
        ex.shutdown();
        System.out.println(sum + " " + got[0]);
    }
}
