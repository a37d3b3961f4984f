"""Course: exercises in the solution notebooks (:mod:`.exercises`), the student copies made from them
(:mod:`.assignments`, ``make student``) and the grader of hand-ins (:mod:`.grader`)."""
