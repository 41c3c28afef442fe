/* A test binary that does nothing: what a process pays just for having the
 * runtime loaded and a leak check at exit. */
int main(void) { return 0; }
